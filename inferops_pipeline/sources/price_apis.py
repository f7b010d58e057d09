"""Live price refresh: AWS Price List, Azure Retail Prices and GCP Cloud Billing Catalog (fetch behind a Protocol)."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.catalog.prices import HOURS_PER_YEAR, InstancePrice, PriceCatalog
from inferops_pipeline.settings import ConfigError

AWS_PRICING_BASE = "https://pricing.us-east-1.amazonaws.com"
AWS_REGION_INDEX = f"{AWS_PRICING_BASE}/offers/v1.0/aws/AmazonEC2/current/region_index.json"
AZURE_RETAIL_PRICES = "https://prices.azure.com/api/retail/prices"
AZURE_API_VERSION = "2023-01-01-preview"
GCP_COMPUTE_SKUS = "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus"
HOURS_PER_MONTH = 730  # GCP prices local SSD per GiB-month; the catalog is per hour
_MAX_PAGES = 500  # a paging loop that never ends is a bug upstream, not a reason to hang the nightly run
# Query parameters that carry secrets: never part of a recorded request's key, never logged.
_SECRET_PARAMS = frozenset({"key"})


class JsonFetcher(Protocol):
    """GET one JSON document; the live implementation talks HTTP, the recorded one reads files."""

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any: ...


def request_key(url: str, params: Mapping[str, str] | None = None) -> str:
    """Canonical request string (url + sorted params, secrets dropped) that names a recorded payload."""
    merged = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
    merged.update(params or {})
    base = urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(query=""))
    query = urllib.parse.urlencode(sorted((k, v) for k, v in merged.items() if k not in _SECRET_PARAMS))
    return f"{base}?{query}" if query else base


class HttpJsonFetcher:
    """Live GETs with the standard library (no extra dependency); errors name the URL, never the API key."""

    def __init__(self, *, timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        full = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(dict(params))}" if params else url
        request = urllib.request.Request(full, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.load(response)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"price refresh: GET {request_key(url, params)} failed: {exc}") from None


class RecordedFetcher:
    """Answers from a directory of recorded payloads: index.json maps request_key() → file name."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.index: dict[str, str] = json.loads((self.directory / "index.json").read_text("utf-8"))
        self.requests: list[str] = []

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        key = request_key(url, params)
        self.requests.append(key)
        if key not in self.index:
            raise ConfigError(f"{self.directory / 'index.json'}: no recorded payload for {key}")
        return json.loads((self.directory / self.index[key]).read_text("utf-8"))


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """One cloud's refreshed rows and what the loader did to get them (pages read, items kept and dropped, why)."""

    cloud: str
    fetched_on: date
    rows: tuple[InstancePrice, ...]
    pages: int
    dropped: Mapping[str, int] = field(default_factory=dict)  # reason → item count
    # Instance types left to the bundled snapshot: API GPU types with no bundled shape (AWS/Azure), or bundled shapes
    # with no SKU rule (GCP a3-ultragpu, a4, fractional g4).
    unmapped: tuple[str, ...] = ()

    def summary(self) -> str:
        dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(self.dropped.items())) or "none"
        return f"{self.cloud}: {len(self.rows)} rows from {self.pages} page(s); dropped {dropped}"


Shapes = Mapping[str, InstancePrice]  # instance type (lower case) → any bundled row of it, for its GPU facts


def shapes_for(catalog: PriceCatalog, cloud: str) -> dict[str, InstancePrice]:
    """Instance type → a bundled row of that type: the APIs give prices, the catalog gives GPU model and count."""
    shapes: dict[str, InstancePrice] = {}
    for price in catalog.all():
        if price.cloud == cloud:
            shapes.setdefault(price.instance_type.lower(), price)
    return shapes


def _refreshed(shape: InstancePrice, **changes: Any) -> InstancePrice:
    return replace(shape, discount_pct=0.0, override="", override_detail="", per_gpu_priced=False, **changes)


# --- AWS Price List (bulk offer files) --------------------------------------------------------------------------

# pricing_reference §7: one row per instance type and region.
_AWS_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}
_AWS_PURCHASE_PREFERENCE = ("No Upfront", "Partial Upfront", "All Upfront")


def _usd(dimension: Mapping[str, Any]) -> float | None:
    try:
        return float(dimension.get("pricePerUnit", {}).get("USD"))
    except (TypeError, ValueError):
        return None


def _aws_on_demand(terms: Mapping[str, Any] | None) -> float | None:
    for term in (terms or {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") == "Hrs":
                return _usd(dimension)
    return None


def _aws_reserved(terms: Mapping[str, Any] | None, lease: str) -> float | None:
    """Effective hourly of a standard RI: upfront ÷ term hours + hourly, preferring No Upfront (like a CUD)."""
    years = int(lease[0])
    options: dict[str, float] = {}
    for term in (terms or {}).values():
        attrs = term.get("termAttributes", {})
        if attrs.get("LeaseContractLength") != lease or attrs.get("OfferingClass") != "standard":
            continue
        upfront = hourly = 0.0
        for dimension in term.get("priceDimensions", {}).values():
            value = _usd(dimension) or 0.0
            if dimension.get("unit") == "Quantity":
                upfront += value
            elif dimension.get("unit") == "Hrs":
                hourly += value
        options[attrs.get("PurchaseOption", "")] = upfront / (HOURS_PER_YEAR * years) + hourly
    return next((options[p] for p in _AWS_PURCHASE_PREFERENCE if p in options), None)


def parse_aws_offer(
    offer: Mapping[str, Any], *, shapes: Shapes, bundled: PriceCatalog, fetched_on: date
) -> tuple[list[InstancePrice], Counter[str], set[str]]:
    """Rows of one regional EC2 offer file: Linux, shared tenancy, no pre-installed software, used capacity.

    The Price List has no spot prices (Karpenter reads DescribeSpotPriceHistory), so a refreshed row keeps the
    bundled snapshot's spot price for its type and region and says so in `notes`.
    """
    dropped: Counter[str] = Counter()
    unmapped: set[str] = set()
    rows: dict[tuple[str, str], InstancePrice] = {}
    on_demand_terms = offer.get("terms", {}).get("OnDemand", {})
    reserved_terms = offer.get("terms", {}).get("Reserved", {})
    published = str(offer.get("publicationDate", ""))[:10]
    for sku, product in offer.get("products", {}).items():
        attrs = product.get("attributes", {})
        if product.get("productFamily") != "Compute Instance":
            dropped["not a compute instance"] += 1
            continue
        mismatch = next((k for k, v in _AWS_FILTERS.items() if attrs.get(k, v) != v), None)
        if mismatch is not None:
            dropped[f"{mismatch} != {_AWS_FILTERS[mismatch]}"] += 1
            continue
        instance_type, region = attrs.get("instanceType", ""), attrs.get("regionCode", "")
        shape = shapes.get(instance_type.lower())
        if shape is None:
            if str(attrs.get("gpu", "0")).strip() not in ("", "0", "NA"):
                unmapped.add(instance_type)
            dropped["no GPU shape in catalog"] += 1
            continue
        price = _aws_on_demand(on_demand_terms.get(sku))
        if price is None or price <= 0 or not region:
            dropped["no on-demand hourly price"] += 1
            continue
        bundled_row = bundled.lookup(cloud="aws", region=region, instance_type=instance_type)
        spot = bundled_row[0].spot_usd_hr if bundled_row and bundled_row[1] == "exact region" else None
        rows[(region, instance_type)] = _refreshed(
            shape,
            region=region,
            instance_type=instance_type,
            ondemand_usd_hr=price,
            spot_usd_hr=spot,
            commit_1yr_usd_hr=_aws_reserved(reserved_terms.get(sku), "1yr"),
            commit_3yr_usd_hr=_aws_reserved(reserved_terms.get(sku), "3yr"),
            source=f"AWS Price List AmazonEC2 offer {offer.get('version', '')} (published {published})",
            snapshot_date=fetched_on,
            notes=(
                "commitments = standard RI effective hourly; "
                + ("spot from the bundled snapshot (the Price List has no spot)" if spot is not None else "no spot")
            ),
            origin="refresh:aws",
        )
    return list(rows.values()), dropped, unmapped


def fetch_aws(
    fetcher: JsonFetcher, *, regions: Iterable[str], bundled: PriceCatalog, fetched_on: date
) -> RefreshResult:
    """Region index → one offer file per region (several hundred MB each in real life), parsed and filtered."""
    index = fetcher.get_json(AWS_REGION_INDEX)
    shapes = shapes_for(bundled, "aws")
    rows: list[InstancePrice] = []
    dropped: Counter[str] = Counter()
    unmapped: set[str] = set()
    pages = 1
    for region in regions:
        entry = index.get("regions", {}).get(region)
        if entry is None:
            dropped["region not in the region index"] += 1
            continue
        offer = fetcher.get_json(urllib.parse.urljoin(AWS_PRICING_BASE, entry["currentVersionUrl"]))
        pages += 1
        got, why, missing = parse_aws_offer(offer, shapes=shapes, bundled=bundled, fetched_on=fetched_on)
        rows += got
        dropped.update(why)
        unmapped |= missing
    return RefreshResult("aws", fetched_on, tuple(rows), pages, dict(dropped), tuple(sorted(unmapped)))


# --- Azure Retail Prices API ------------------------------------------------------------------------------------

_AZURE_TERM_HOURS = {"1 Year": HOURS_PER_YEAR, "3 Years": 3 * HOURS_PER_YEAR}


def azure_pages(fetcher: JsonFetcher, *, region: str) -> Iterator[Mapping[str, Any]]:
    """Every page of VM prices for one region, following NextPageLink until it is null."""
    filter_ = (
        f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and contains(armSkuName, 'Standard_N')"
    )
    page = fetcher.get_json(AZURE_RETAIL_PRICES, {"api-version": AZURE_API_VERSION, "$filter": filter_})
    for _ in range(_MAX_PAGES):
        yield page
        link = page.get("NextPageLink")
        if not link:
            return
        page = fetcher.get_json(link)
    raise ConfigError(f"price refresh: Azure {region}: more than {_MAX_PAGES} pages, giving up")


def parse_azure_items(
    items: Iterable[Mapping[str, Any]], *, shapes: Shapes, fetched_on: date
) -> tuple[list[InstancePrice], Counter[str], set[str]]:
    """Linux pay-as-you-go per armSkuName and region, with Spot meters as the spot price and Reservation items as
    commitment prices (whole-term price ÷ term hours). Windows, Low Priority, DevTest and non-primary meters drop."""
    dropped: Counter[str] = Counter()
    unmapped: set[str] = set()
    on_demand: dict[tuple[str, str], float] = {}
    spot: dict[tuple[str, str], float] = {}
    commit: dict[tuple[str, str, str], float] = {}
    names: dict[str, str] = {}
    for item in items:
        sku, region = item.get("armSkuName", ""), item.get("armRegionName", "")
        meter = f"{item.get('skuName', '')} | {item.get('meterName', '')}"
        reason = None
        if item.get("serviceName") != "Virtual Machines":
            reason = "not Virtual Machines"
        elif item.get("currencyCode", "USD") != "USD":
            reason = "not USD"
        elif item.get("unitOfMeasure") != "1 Hour":
            reason = "not per hour"
        elif str(item.get("productName", "")).endswith("Windows"):
            reason = "Windows"
        elif "Low Priority" in meter:
            reason = "Low Priority"
        elif item.get("type") == "DevTestConsumption":
            reason = "DevTestConsumption"
        elif item.get("isPrimaryMeterRegion") is False:
            reason = "non-primary meter region"
        elif item.get("type") not in ("Consumption", "Reservation"):
            reason = f"type {item.get('type')}"
        if reason is not None:
            dropped[reason] += 1
            continue
        price = float(item.get("retailPrice", 0.0))
        if price <= 0:
            dropped["zero price"] += 1
            continue
        names[sku.lower()] = sku
        key = (region, sku.lower())
        if item["type"] == "Reservation":
            term = item.get("reservationTerm", "")
            if term not in _AZURE_TERM_HOURS:
                dropped[f"reservation term {term!r}"] += 1
                continue
            hourly = price / _AZURE_TERM_HOURS[term]
            commit[(region, sku.lower(), term)] = min(hourly, commit.get((region, sku.lower(), term), hourly))
        elif "Spot" in meter:
            spot[key] = min(price, spot.get(key, price))  # separated: the spot price, not pay-as-you-go
        else:
            on_demand[key] = min(price, on_demand.get(key, price))
    rows = []
    for (region, sku_l), price in sorted(on_demand.items()):
        shape = shapes.get(sku_l)
        if shape is None:
            unmapped.add(names[sku_l])
            dropped["no GPU shape in catalog"] += 1
            continue
        rows.append(
            _refreshed(
                shape,
                region=region,
                instance_type=shape.instance_type,
                ondemand_usd_hr=price,
                spot_usd_hr=spot.get((region, sku_l)),
                commit_1yr_usd_hr=commit.get((region, sku_l, "1 Year")),
                commit_3yr_usd_hr=commit.get((region, sku_l, "3 Years")),
                source=f"Azure Retail Prices API {AZURE_API_VERSION} (Linux Consumption; Spot and Reservation meters)",
                snapshot_date=fetched_on,
                notes="commitments = reservation term price ÷ term hours",
                origin="refresh:azure",
            )
        )
    return rows, dropped, unmapped


def fetch_azure(
    fetcher: JsonFetcher, *, regions: Iterable[str], bundled: PriceCatalog, fetched_on: date
) -> RefreshResult:
    items: list[Mapping[str, Any]] = []
    pages = 0
    for region in regions:
        for page in azure_pages(fetcher, region=region):
            pages += 1
            items += page.get("Items", [])
    rows, dropped, unmapped = parse_azure_items(items, shapes=shapes_for(bundled, "azure"), fetched_on=fetched_on)
    return RefreshResult("azure", fetched_on, tuple(rows), pages, dict(dropped), tuple(sorted(unmapped)))


# --- GCP Cloud Billing Catalog ----------------------------------------------------------------------------------

# Machine-type prefix → the family word of its core/RAM SKUs and whether its GPU is the "Mega" SKU. A GCP VM is billed
# as cores + RAM + GPUs (+ bundled local SSD), never as a whole machine type (pricing_reference §7).
_GCP_FAMILIES = (
    ("a2-", "A2", False),
    ("a3-highgpu-", "A3", False),
    ("a3-megagpu-", "A3", True),
    ("g2-", "G2", False),
    ("g4-", "G4", False),
    ("n1-", "N1", False),
)
# Local SSD the machine type bundles (GiB), billed on the Local SSD SKU: 375 GiB disks, one per A100 80GB on
# a2-ultragpu, two per H100 on a3-highgpu/megagpu.
_GCP_BUNDLED_SSD_GIB = {
    "a2-ultragpu-1g": 375,
    "a2-ultragpu-2g": 750,
    "a2-ultragpu-4g": 1500,
    "a2-ultragpu-8g": 3000,
    "a3-highgpu-1g": 750,
    "a3-highgpu-2g": 1500,
    "a3-highgpu-4g": 3000,
    "a3-highgpu-8g": 6000,
    "a3-megagpu-8g": 6000,
}
_GCP_USAGE = {"OnDemand": "on-demand", "Preemptible": "spot", "Commit1Yr": "commit-1y", "Commit3Yr": "commit-3y"}
# Reservation, DWS / flex-start / calendar-mode and other special SKUs are priced differently; matching them is the
# likely cause of SkyPilot's inconsistent GCP GPU rows (pricing_reference §6), so they are dropped by description.
_GCP_EXCLUDE = re.compile(
    r"\b(reserved|reservation|dws|dynamic workload|flex|calendar|sole tenancy|premium|custom|extended|upgrade)\b",
    re.IGNORECASE,
)
_GCP_CORE_RAM = re.compile(
    r"^(?:Spot Preemptible )?(?P<family>A2|A3|G2|G4|N1 Predefined) Instance (?P<part>Core|Ram) running in"
    r"|^Commitment v1: (?:(?P<cfamily>A2|A3|G2|G4) )?(?P<cpart>Cpu|Ram) in "
)
_GCP_GPU_END = re.compile(r" (?:GPU )?(?:running in|attached to|in ) ?")
_GCP_SSD = re.compile(r"^(?:SSD backed Local Storage|Commitment v1: Local SSD)\b", re.IGNORECASE)


def gcp_unit_price(sku: Mapping[str, Any]) -> tuple[float, str] | None:
    """(price per usage unit, unit) of the last tier of the newest pricingInfo: units + nanos / 1e9."""
    infos = sku.get("pricingInfo") or []
    if not infos:
        return None
    expression = infos[-1].get("pricingExpression", {})
    tiers = expression.get("tieredRates") or []
    if not tiers:
        return None
    unit_price = tiers[-1].get("unitPrice", {})
    return int(unit_price.get("units") or 0) + int(unit_price.get("nanos") or 0) / 1e9, expression.get("usageUnit", "")


def gcp_pages(fetcher: JsonFetcher, *, api_key: str) -> Iterator[Mapping[str, Any]]:
    """Every page of Compute Engine SKUs, following nextPageToken until it is empty."""
    params = {"key": api_key, "currencyCode": "USD", "pageSize": "5000"}
    page = fetcher.get_json(GCP_COMPUTE_SKUS, params)
    for _ in range(_MAX_PAGES):
        yield page
        token = page.get("nextPageToken")
        if not token:
            return
        page = fetcher.get_json(GCP_COMPUTE_SKUS, {**params, "pageToken": token})
    raise ConfigError(f"price refresh: GCP: more than {_MAX_PAGES} pages, giving up")


def _gcp_component(sku: Mapping[str, Any]) -> tuple[str, str] | None:
    """('core'|'ram'|'ssd'|'gpu', family or GPU key) that a VM price is built from; None for anything else."""
    category = sku.get("category", {})
    description = str(sku.get("description", ""))
    if _GCP_SSD.match(description) and category.get("resourceGroup") == "LocalSSD":
        return "ssd", ""
    if category.get("resourceFamily") != "Compute":
        return None
    match = _GCP_CORE_RAM.match(description)
    if match is not None:
        part = (match["part"] or match["cpart"]).lower()
        family = (match["family"] or match["cfamily"] or "N1").split()[0]
        return ("core" if part in ("core", "cpu") else "ram"), family
    if category.get("resourceGroup") == "GPU":
        name = _GCP_GPU_END.split(description.removeprefix("Commitment v1: "), maxsplit=1)[0]
        gpu = normalize_gpu_name(name)
        if gpu is not None:
            return "gpu", f"{gpu}{'+mega' if 'mega' in name.lower() else ''}"
    return None


def parse_gcp_skus(
    skus: Iterable[Mapping[str, Any]], *, shapes: Shapes, regions: Iterable[str], fetched_on: date
) -> tuple[list[InstancePrice], Counter[str], set[str]]:
    """Price each bundled GCP machine shape from its component SKUs in each region: vCPU × core + GiB × RAM +
    GPUs × GPU (+ bundled local SSD), for on-demand, spot and 1y/3y commitments; partial components skip a column."""
    dropped: Counter[str] = Counter()
    wanted = {r.lower() for r in regions}
    parts: dict[tuple[str, str, str, str], float] = {}  # (region, capacity, component, family/gpu) → $/unit-hour
    for sku in skus:
        description = str(sku.get("description", ""))
        usage = _GCP_USAGE.get(sku.get("category", {}).get("usageType", ""))
        if usage is None:
            dropped["usage type"] += 1
            continue
        if _GCP_EXCLUDE.search(description):
            dropped["reserved/DWS/special SKU"] += 1
            continue
        component = _gcp_component(sku)
        priced = gcp_unit_price(sku)
        if component is None or priced is None:
            dropped["not a VM component"] += 1
            continue
        price, unit = priced
        hourly = price / HOURS_PER_MONTH if unit.endswith(".mo") else price
        for region in sku.get("serviceRegions", []):
            if region.lower() in wanted:
                parts[(region.lower(), usage, *component)] = hourly

    rows: list[InstancePrice] = []
    unmapped: set[str] = set()
    for region in sorted(wanted):
        for type_l, shape in sorted(shapes.items()):
            rule = next((r for r in _GCP_FAMILIES if type_l.startswith(r[0])), None)
            if rule is None or shape.gpu_count < 1:
                # a3-ultragpu/a4 (no SKU rule yet) and fractional g4 partitions keep their bundled rows.
                unmapped.add(shape.instance_type)
                continue
            _, family, mega = rule
            gpu = f"{shape.gpu_model}{'+mega' if mega else ''}"
            ssd = _GCP_BUNDLED_SSD_GIB.get(type_l, 0)
            needed = [("core", family), ("ram", family), ("gpu", gpu)] + ([("ssd", "")] if ssd else [])
            quantities = [shape.vcpus, shape.memory_gib, shape.gpu_count] + ([float(ssd)] if ssd else [])

            def price_for(
                capacity: str,
                *,
                region: str = region,
                needed: list[tuple[str, str]] = needed,
                quantities: list[float] = quantities,
            ) -> float | None:
                got = [parts.get((region, capacity, *part)) for part in needed]
                if any(v is None for v in got):
                    return None
                return sum(q * (v or 0.0) for q, v in zip(quantities, got, strict=True))

            on_demand = price_for("on-demand")
            if on_demand is None:
                continue
            rows.append(
                _refreshed(
                    shape,
                    region=region,
                    ondemand_usd_hr=on_demand,
                    spot_usd_hr=price_for("spot"),
                    commit_1yr_usd_hr=price_for("commit-1y"),
                    commit_3yr_usd_hr=price_for("commit-3y"),
                    source="GCP Cloud Billing Catalog services/6F81-5844-456A/skus (cores + RAM + GPU SKUs)",
                    snapshot_date=fetched_on,
                    notes=f"{family} core/RAM + {shape.gpu_count:g} × {gpu} GPU"
                    + (f" + {ssd} GiB local SSD" if ssd else ""),
                    origin="refresh:gcp",
                )
            )
    return rows, dropped, unmapped


def fetch_gcp(
    fetcher: JsonFetcher, *, api_key: str, regions: Iterable[str], bundled: PriceCatalog, fetched_on: date
) -> RefreshResult:
    if not api_key:
        raise ConfigError("price refresh: GCP needs an API key (pricing.refresh.gcp_api_key_env names its env var)")
    skus: list[Mapping[str, Any]] = []
    pages = 0
    for page in gcp_pages(fetcher, api_key=api_key):
        pages += 1
        skus += page.get("skus", [])
    rows, dropped, unmapped = parse_gcp_skus(
        skus, shapes=shapes_for(bundled, "gcp"), regions=regions, fetched_on=fetched_on
    )
    return RefreshResult("gcp", fetched_on, tuple(rows), pages, dict(dropped), tuple(sorted(unmapped)))


def refresh_prices(
    fetcher: JsonFetcher,
    *,
    clouds: Iterable[str],
    bundled: PriceCatalog,
    fetched_on: date,
    regions: Mapping[str, Iterable[str]] | None = None,
    gcp_api_key: str = "",
) -> list[RefreshResult]:
    """Refresh the given clouds; a cloud's regions default to the ones the bundled catalog has for it."""
    loaders: dict[str, Callable[[list[str]], RefreshResult]] = {
        "aws": lambda rs: fetch_aws(fetcher, regions=rs, bundled=bundled, fetched_on=fetched_on),
        "azure": lambda rs: fetch_azure(fetcher, regions=rs, bundled=bundled, fetched_on=fetched_on),
        "gcp": lambda rs: fetch_gcp(fetcher, api_key=gcp_api_key, regions=rs, bundled=bundled, fetched_on=fetched_on),
    }
    results = []
    for cloud in clouds:
        if cloud not in loaders:
            raise ConfigError(f"price refresh: no live loader for cloud {cloud!r} (expected aws, azure or gcp)")
        wanted = list((regions or {}).get(cloud) or sorted({p.region for p in bundled.all() if p.cloud == cloud}))
        results.append(loaders[cloud](wanted))
    return results
