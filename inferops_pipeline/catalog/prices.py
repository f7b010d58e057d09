"""GPU instance prices (bundled gpu_instance_prices.csv, refreshed rows, overrides, discount) and traceable quotes."""

from __future__ import annotations

import csv
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from importlib import resources
from typing import Any

from inferops_pipeline.catalog.gpus import normalize_gpu_name

HOURS_PER_YEAR = 8760

# Capacity types a node can be billed under. "reserved" is Karpenter's ODCR capacity type (and GKE/AKS
# reservations): a capacity reservation is billed at the on-demand rate whether used or not, so it is priced
# on-demand; commitment discounts (AWS RI/Savings Plans, GCP CUD, Azure reservations) are "commit-1y"/"commit-3y".
CAPACITY_TYPES = ("on-demand", "spot", "reserved", "commit-1y", "commit-3y")
_CAPACITY_ALIASES = {
    "on-demand": "on-demand",
    "ondemand": "on-demand",
    "on_demand": "on-demand",
    "regular": "on-demand",
    "standard": "on-demand",
    "spot": "spot",
    "preemptible": "spot",
    "low-priority": "spot",
    "reserved": "reserved",
    "capacity-block": "reserved",
    "commit-1y": "commit-1y",
    "1y": "commit-1y",
    "1yr": "commit-1y",
    "commit-1yr": "commit-1y",
    "committed-1y": "commit-1y",
    "commit-3y": "commit-3y",
    "3y": "commit-3y",
    "3yr": "commit-3y",
    "commit-3yr": "commit-3y",
    "committed-3y": "commit-3y",
}


def normalize_capacity_type(capacity_type: str) -> str:
    """One of CAPACITY_TYPES; ValueError on anything else so a typo never silently prices as on-demand."""
    key = capacity_type.strip().lower().replace("_", "-")
    if key not in _CAPACITY_ALIASES:
        raise ValueError(f"unknown capacity type {capacity_type!r} (expected one of {', '.join(CAPACITY_TYPES)})")
    return _CAPACITY_ALIASES[key]


class PriceBasis(StrEnum):
    """How solid a price is, from best to worst; every quote and so every finding's dollars carries one."""

    OVERRIDE = "override"  # the user's negotiated / on-prem price (always wins)
    EXACT = "exact"  # catalog row for this cloud, region and instance type
    OTHER_REGION = "other_region"  # same instance type, another region of the same cloud
    GPU_MODEL_MEDIAN = "gpu_model_median"  # median per-GPU price of the GPU model (this cloud, else all clouds)
    UNPRICED = "unpriced"  # nothing matched: the node counts $0 and findings on it carry no dollars


# Canonical one-line form of a quote, stored in the varchar `price_basis` columns and parsed back into evidence:
#   "<basis> [<key>] <detail>", e.g. "exact [aws/us-east-1/p5.48xlarge/on-demand] on-demand $55.04/h (source …)".
_QUOTE_TEXT = re.compile(r"^(?P<basis>[a-z_]+) \[(?P<key>[^\]]*)\] ?(?P<detail>.*)$", re.DOTALL)


def price_evidence(text: str) -> dict[str, str]:
    """Split a stored quote text into the evidence fields a finding carries: price_basis, price_key, price_detail.

    Text that is not a quote (e.g. "no GPU node in cluster to price against") is reported as unpriced.
    """
    match = _QUOTE_TEXT.match(text or "")
    if match is None or match["basis"] not in PriceBasis.__members__.values():
        return {"price_basis": PriceBasis.UNPRICED.value, "price_key": "", "price_detail": text or ""}
    return {"price_basis": match["basis"], "price_key": match["key"], "price_detail": match["detail"]}


@dataclass(frozen=True, slots=True)
class GpuShare:
    """OpenCost's split of a GPU node's price into CPU, RAM and GPU parts, used to attribute only the GPU share.

    OpenCost (costmodel.go, "GPU without cost found") weighs each resource by a default list price relative to one
    GiB of RAM: gpu_share = gpus·gpu_hr / (gpus·gpu_hr + vcpus·cpu_core_hr + ram_gib·ram_gib_hr). The defaults are
    OpenCost's (GCP us-central1 N1 core, RAM and a $0.95 GPU).
    """

    cpu_core_hr: float = 0.031611
    ram_gib_hr: float = 0.004237
    gpu_hr: float = 0.95

    def fraction(self, *, gpus: float, vcpus: float, memory_gib: float) -> float:
        weight = gpus * self.gpu_hr
        total = weight + vcpus * self.cpu_core_hr + memory_gib * self.ram_gib_hr
        return weight / total if total > 0 else 1.0


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """An hourly price with its basis and the catalog row or override it came from."""

    usd_hr: float  # what the node (or requested GPUs) costs per hour, after the GPU-share attribution if any
    basis: PriceBasis
    key: str  # "cloud/region/instance_type/capacity_type" of the row used, or "file:line" of the override
    detail: str  # one line: price column used, source and snapshot, fallbacks, discount, share
    gpu_share: float = 1.0  # fraction of the instance price attributed to its GPUs (1.0 = whole node)

    @property
    def text(self) -> str:
        return f"{self.basis.value} [{self.key}] {self.detail}"

    def evidence(self) -> dict[str, str]:
        return {"price_basis": self.basis.value, "price_key": self.key, "price_detail": self.detail}


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """One row of the user's price overrides file: a whole-instance price or a per-GPU price."""

    cloud: str
    region: str  # "" = every region of the cloud
    instance_type: str  # set for an instance-hour price
    gpu_model: str  # set (price-catalog key) for a GPU-hour price
    price_usd_hr: float | None
    price_per_gpu_usd_hr: float | None
    note: str
    file: str
    line: int

    @property
    def ref(self) -> str:
        """The override row a quote traces to: 'prices.csv:3'."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class InstancePrice:
    cloud: str
    region: str
    instance_type: str
    gpu_model: str  # "" when an override names an instance type the catalog does not know
    gpu_count: float  # fractional for partitioned GPUs (g6f, NVadsA10 v5, g4-standard-6..24)
    gpu_memory_gib: float  # one GPU, or the partition when gpu_count < 1
    vcpus: float
    memory_gib: float
    ondemand_usd_hr: float
    spot_usd_hr: float | None
    commit_1yr_usd_hr: float | None
    commit_3yr_usd_hr: float | None
    source: str
    snapshot_date: date | None
    notes: str = ""
    override: str = ""  # override row ("prices.csv:3") when a user override set the price
    override_detail: str = ""  # e.g. "$4.00/GPU-h × 8 H100-80GB"
    discount_pct: float = 0.0  # blanket discount already applied to the price columns
    origin: str = "bundled"  # bundled | refresh:<cloud> | override
    per_gpu_priced: bool = False  # price came from a per-GPU override: it is a GPU price, never share-attributed

    @property
    def per_gpu_ondemand_usd_hr(self) -> float | None:
        return self.ondemand_usd_hr / self.gpu_count if self.gpu_count > 0 else None

    @property
    def is_partition(self) -> bool:
        """A fractional GPU shape (g6f, NVadsA10 v5, g4-standard-6): its price buys `gpu_count` of one card."""
        return 0 < self.gpu_count < 1

    def row_key(self, capacity_type: str) -> str:
        return f"{self.cloud}/{self.region}/{self.instance_type}/{normalize_capacity_type(capacity_type)}"

    def price_for(self, capacity_type: str) -> tuple[float, str]:
        """Instance price per hour for a capacity type and the label of the column that gave it."""
        cap = normalize_capacity_type(capacity_type)
        if self.override:
            # A negotiated or on-prem price is what is paid whatever the node's capacity type.
            return self.ondemand_usd_hr, f"override price for {cap}"
        if cap == "spot":
            if self.spot_usd_hr is not None:
                return self.spot_usd_hr, "spot"
            return self.ondemand_usd_hr, "on-demand (no spot price in catalog)"
        if cap in ("commit-1y", "commit-3y"):
            years, value = (
                ("1-year", self.commit_1yr_usd_hr) if cap == "commit-1y" else ("3-year", self.commit_3yr_usd_hr)
            )
            if value is not None:
                return value, f"{years} commitment"
            return self.ondemand_usd_hr, f"on-demand (no {years} commitment price in catalog)"
        if cap == "reserved":
            return self.ondemand_usd_hr, "on-demand (capacity reservations bill at the on-demand rate)"
        return self.ondemand_usd_hr, "on-demand"

    def quote(self, capacity_type: str, *, asked_region: str = "", gpu_share: GpuShare | None = None) -> PriceQuote:
        """This row's price for a capacity type as a traceable quote; `asked_region` marks a region fallback."""
        cap = normalize_capacity_type(capacity_type)
        price, label = self.price_for(cap)
        fallback = bool(asked_region) and asked_region.strip().lower() != self.region.lower()
        share = 1.0
        share_note = ""
        if gpu_share is not None and not self.per_gpu_priced and self.gpu_count > 0 and self.vcpus > 0:
            share = gpu_share.fraction(gpus=self.gpu_count, vcpus=self.vcpus, memory_gib=self.memory_gib)
            share_note = f"; GPU share {share:.1%} of ${price:.2f}/h (OpenCost CPU/RAM/GPU split)"
        where = f" priced from {self.region} (no row for {asked_region})" if fallback else ""
        if self.override:
            note = f"; {self.notes}" if self.notes else ""
            extra = f" = {self.override_detail}" if self.override_detail else ""
            detail = (
                f"${price:.2f}/h{extra} for {self.cloud}/{self.region or '*'}/{self.instance_type} ({cap}){note}"
                f"{where}{share_note}"
            )
            return PriceQuote(price * share, PriceBasis.OVERRIDE, self.override, detail, share)
        snapshot = self.snapshot_date.isoformat() if self.snapshot_date else "undated"
        discount = ""
        if self.discount_pct:
            list_price = price / (1 - self.discount_pct / 100)
            discount = f" after {self.discount_pct:g}% discount (list ${list_price:.2f}/h)"
        detail = (
            f"{label} ${price:.2f}/h{discount}{where} (source {_short_source(self.source)}, snapshot {snapshot})"
            f"{share_note}"
        )
        basis = PriceBasis.OTHER_REGION if fallback else PriceBasis.EXACT
        return PriceQuote(price * share, basis, self.row_key(cap), detail, share)

    def hourly(self, capacity_type: str) -> tuple[float, str]:
        """(price per hour, canonical quote text) for this row and capacity type."""
        quote = self.quote(capacity_type)
        return quote.usd_hr, quote.text


def _short_source(source: str) -> str:
    # The CSV appends '; specs: ...' (where the shape came from); a price basis only needs where the price came from.
    return source.split("; specs:")[0].strip()


def _opt_float(value: str) -> float | None:
    value = value.strip()
    return float(value) if value else None


def _row_to_price(row: dict[str, str]) -> InstancePrice:
    snapshot = row["snapshot_date"].strip()
    return InstancePrice(
        cloud=row["cloud"],
        region=row["region"],
        instance_type=row["instance_type"],
        gpu_model=row["gpu_model"],
        gpu_count=float(row["gpu_count"]),
        gpu_memory_gib=float(row["gpu_memory_gib"]),
        vcpus=float(row["vcpus"]),
        memory_gib=float(row["memory_gib"]),
        ondemand_usd_hr=float(row["price_ondemand_usd_hr"]),
        spot_usd_hr=_opt_float(row["price_spot_usd_hr"]),
        commit_1yr_usd_hr=_opt_float(row["price_commit_1yr_usd_hr"]),
        commit_3yr_usd_hr=_opt_float(row["price_commit_3yr_usd_hr"]),
        source=row["source"],
        snapshot_date=date.fromisoformat(snapshot) if snapshot else None,
        notes=row["notes"],
    )


def _key(cloud: str, region: str, instance_type: str) -> tuple[str, str, str]:
    # Node labels and the CSV disagree on case for Azure SKUs (Standard_NC24ads_A100_v4); match case-insensitively.
    return cloud.strip().lower(), region.strip().lower(), instance_type.strip().lower()


def _region_rank(asked: str, region: str) -> tuple[int, str]:
    # For a region the catalog lacks, prefer one on the same continent prefix (us-*, eu-*/europe-*), then by name.
    return (0 if region.lower()[:2] == asked.strip().lower()[:2] else 1, region)


class PriceCatalog:
    """Instance prices keyed by (cloud, region, instance_type), with overrides, discount and attribution applied.

    Fallback chain of `quote()` (each step names its basis, so a finding says how solid its dollars are):
      1. override: the user's instance-type price (this region, else cloud-wide), or a per-GPU price for the node's
         GPU model × its GPU count (this region, else cloud-wide) — overrides always win;
      2. exact: the catalog row for cloud/region/instance type (after the blanket discount);
      3. other_region: the same instance type in another region of the same cloud (same continent first);
      4. gpu_model_median: the median per-GPU price of the node's GPU model on that cloud × its GPU count;
      5. gpu_model_median across clouds (key starts "*/"), the last resort;
      6. unpriced: $0 — a finding can never invent dollars from a missing price.
    """

    def __init__(
        self,
        prices: Iterable[InstancePrice],
        *,
        gpu_overrides: Iterable[PriceOverride] = (),
        gpu_share: GpuShare | None = None,
    ) -> None:
        self._prices: dict[tuple[str, str, str], InstancePrice] = {}
        for price in prices:
            self._prices[_key(price.cloud, price.region, price.instance_type)] = price
        self._gpu_overrides = tuple(gpu_overrides)
        self.gpu_share = gpu_share

    @classmethod
    def load_bundled(cls) -> PriceCatalog:
        path = resources.files("inferops_pipeline.catalog").joinpath("data/gpu_instance_prices.csv")
        rows = csv.DictReader(path.read_text("utf-8").splitlines())
        return cls(_row_to_price(row) for row in rows)

    def _copy(self, prices: Iterable[InstancePrice], **changes: Any) -> PriceCatalog:
        kwargs: dict[str, Any] = {"gpu_overrides": self._gpu_overrides, "gpu_share": self.gpu_share}
        kwargs.update(changes)
        return PriceCatalog(prices, **kwargs)

    def all(self) -> list[InstancePrice]:
        return sorted(self._prices.values(), key=lambda p: (p.cloud, p.region, p.instance_type))

    # --- building the catalog in force -------------------------------------------------------------------------

    def with_refreshed(self, refreshed: Iterable[InstancePrice]) -> PriceCatalog:
        """Rows from a live price-API refresh replace the bundled rows of the same key; the rest stay bundled."""
        prices = dict(self._prices)
        for price in refreshed:
            prices[_key(price.cloud, price.region, price.instance_type)] = price
        return self._copy(prices.values())

    def discounted(self, pct: float) -> PriceCatalog:
        """Blanket discount off list prices; user overrides are already negotiated and stay as written."""
        if not 0 <= pct < 100:
            raise ValueError(f"discount_pct must be in [0, 100), got {pct}")
        if pct == 0:
            return self
        factor = 1 - pct / 100

        def scale(value: float | None) -> float | None:
            return None if value is None else value * factor

        prices = []
        for price in self._prices.values():
            if price.override or price.discount_pct:
                prices.append(price)
                continue
            prices.append(
                replace(
                    price,
                    ondemand_usd_hr=price.ondemand_usd_hr * factor,
                    spot_usd_hr=scale(price.spot_usd_hr),
                    commit_1yr_usd_hr=scale(price.commit_1yr_usd_hr),
                    commit_3yr_usd_hr=scale(price.commit_3yr_usd_hr),
                    discount_pct=pct,
                )
            )
        return self._copy(prices)

    def with_gpu_share(self, share: GpuShare | None) -> PriceCatalog:
        """Attribute only the GPU share of each instance price to its GPUs (None: the whole node, the default)."""
        return self._copy(self._prices.values(), gpu_share=share)

    def with_overrides(self, overrides: Iterable[PriceOverride]) -> PriceCatalog:
        """Catalog where user prices beat list prices: instance rows beat per-GPU rows, a named region beats ''."""
        overrides = [
            replace(o, gpu_model=normalize_gpu_name(o.gpu_model) or o.gpu_model) if o.gpu_model else o
            for o in overrides
        ]
        prices = dict(self._prices)
        gpu_rows = [o for o in overrides if o.price_per_gpu_usd_hr is not None]
        instance_rows = [o for o in overrides if o.price_usd_hr is not None]

        for ov in sorted(gpu_rows, key=lambda o: o.region != ""):
            per_gpu = ov.price_per_gpu_usd_hr
            assert per_gpu is not None
            for key, price in prices.items():
                if (
                    key[0] == ov.cloud.lower()
                    and (not ov.region or key[1] == ov.region.lower())
                    and price.gpu_model == ov.gpu_model
                    and price.gpu_count > 0
                ):
                    prices[key] = _overridden(
                        price,
                        per_gpu * price.gpu_count,
                        ov,
                        detail=f"${per_gpu:.2f}/GPU-h × {price.gpu_count:g} {ov.gpu_model}",
                        per_gpu=True,
                    )

        for ov in sorted(instance_rows, key=lambda o: o.region != ""):
            assert ov.price_usd_hr is not None
            matched = [
                key
                for key in prices
                if key[0] == ov.cloud.lower()
                and key[2] == ov.instance_type.lower()
                and (not ov.region or key[1] == ov.region.lower())
            ]
            for key in matched:
                prices[key] = _overridden(prices[key], ov.price_usd_hr, ov)
            if not matched or not ov.region:
                # A type/region the catalog lacks (on-prem, a new region) or a cloud-wide override: add a row, with
                # the shape borrowed from any region of the same type so GPU facts survive. Region "" marks a
                # cloud-wide row that quote()/lookup() use for any region without a row of its own.
                cloud_l, type_l = ov.cloud.lower(), ov.instance_type.lower()
                shape = next((p for k, p in sorted(self._prices.items()) if k[0] == cloud_l and k[2] == type_l), None)
                base = shape or InstancePrice(
                    cloud=ov.cloud,
                    region=ov.region,
                    instance_type=ov.instance_type,
                    gpu_model="",
                    gpu_count=0.0,
                    gpu_memory_gib=0.0,
                    vcpus=0.0,
                    memory_gib=0.0,
                    ondemand_usd_hr=0.0,
                    spot_usd_hr=None,
                    commit_1yr_usd_hr=None,
                    commit_3yr_usd_hr=None,
                    source="",
                    snapshot_date=None,
                )
                base = replace(base, cloud=ov.cloud, region=ov.region)
                prices[_key(ov.cloud, ov.region, ov.instance_type)] = _overridden(base, ov.price_usd_hr, ov)

        return self._copy(prices.values(), gpu_overrides=(*self._gpu_overrides, *gpu_rows))

    # --- look-ups ----------------------------------------------------------------------------------------------

    def lookup(self, *, cloud: str, region: str, instance_type: str) -> tuple[InstancePrice, str] | None:
        """The price row for an instance type: exact region, else a cloud-wide override, else another region.

        The second element says how it matched ('exact region', 'cloud-wide override' or 'region fallback from
        <asked> to <used>').
        """
        exact = self._prices.get(_key(cloud, region, instance_type))
        if exact is not None:
            return exact, "exact region"
        wildcard = self._prices.get(_key(cloud, "", instance_type))
        if wildcard is not None:
            return replace(wildcard, region=region), "cloud-wide override"
        other = self._other_region(cloud=cloud, region=region, instance_type=instance_type)
        if other is None:
            return None
        return other, f"region fallback from {region} to {other.region}"

    def _other_region(self, *, cloud: str, region: str, instance_type: str) -> InstancePrice | None:
        cloud_l, type_l = cloud.strip().lower(), instance_type.strip().lower()
        candidates = [p for k, p in self._prices.items() if k[0] == cloud_l and k[2] == type_l and k[1]]
        return min(candidates, key=lambda p: _region_rank(region, p.region)) if candidates else None

    def _gpu_override(self, *, cloud: str, region: str, gpu_model: str) -> PriceOverride | None:
        cloud_l, region_l = cloud.strip().lower(), region.strip().lower()
        for want_region in (region_l, ""):
            for ov in reversed(self._gpu_overrides):
                if ov.cloud.lower() == cloud_l and ov.region.lower() == want_region and ov.gpu_model == gpu_model:
                    return ov
        return None

    def quote(
        self,
        *,
        cloud: str,
        region: str,
        instance_type: str,
        capacity_type: str = "on-demand",
        gpu_model: str = "",
        gpu_count: float = 0.0,
    ) -> PriceQuote:
        """Hourly price of one node along the documented fallback chain (see the class docstring).

        `gpu_model`/`gpu_count` are the node's own GPU facts; they price nodes whose instance type no catalog row
        or override names (per-GPU override or median × count). Fractional counts (a g6f partition, a MIG share)
        are priced by that share of a whole GPU.
        """
        cap = normalize_capacity_type(capacity_type)
        exact = self._prices.get(_key(cloud, region, instance_type)) if instance_type else None
        if exact is not None:
            return exact.quote(cap, gpu_share=self.gpu_share)
        wildcard = self._prices.get(_key(cloud, "", instance_type)) if instance_type else None
        if wildcard is not None:
            return replace(wildcard, region=region).quote(cap, gpu_share=self.gpu_share)
        other = self._other_region(cloud=cloud, region=region, instance_type=instance_type) if instance_type else None

        key = normalize_gpu_name(gpu_model) if gpu_model else None
        key = key or (other.gpu_model if other is not None else "") or gpu_model
        count = gpu_count if gpu_count > 0 else (other.gpu_count if other is not None else 0.0)
        if key and count > 0:
            ov = self._gpu_override(cloud=cloud, region=region, gpu_model=key)
            if ov is not None and ov.price_per_gpu_usd_hr is not None:
                per_gpu = ov.price_per_gpu_usd_hr
                note = f"; {ov.note}" if ov.note else ""
                detail = (
                    f"${per_gpu:.2f}/GPU-h × {count:g} {key} for {cloud}/{ov.region or '*'}/"
                    f"{instance_type or '(no instance type)'} ({cap}){note}"
                )
                return PriceQuote(per_gpu * count, PriceBasis.OVERRIDE, ov.ref, detail)
        if other is not None:
            return other.quote(cap, asked_region=region, gpu_share=self.gpu_share)
        if key and count > 0:
            for scope in (cloud, None):
                median = self._median_gpu_hour(gpu_model=key, capacity_type=cap, cloud=scope)
                if median is not None:
                    per_gpu, label, rows = median
                    where = f"{cloud.lower()}/*" if scope else "*/*"
                    scope_text = f"on {cloud}" if scope else "across clouds"
                    share = "; GPU share only (OpenCost split)" if self.gpu_share else ""
                    detail = (
                        f"median {label} ${per_gpu:.2f}/GPU-h of {rows} whole-GPU {key} rows {scope_text} × "
                        f"{count:g} GPU (no row for {cloud}/{region}/{instance_type or '(no instance type)'}){share}"
                    )
                    return PriceQuote(per_gpu * count, PriceBasis.GPU_MODEL_MEDIAN, f"{where}/gpu:{key}/{cap}", detail)
        what = f"{cloud}/{region}/{instance_type or '(no instance type)'}" + (f" ({key})" if key else "")
        return PriceQuote(0.0, PriceBasis.UNPRICED, "", f"no catalog row, override or GPU median for {what}")

    def _median_gpu_hour(
        self, *, gpu_model: str, capacity_type: str, cloud: str | None
    ) -> tuple[float, str, int] | None:
        # Whole-GPU shapes only: a fractional shape's per-GPU price (host ÷ 0.125) is not what a whole GPU costs.
        rows = [
            p
            for p in self._prices.values()
            if p.gpu_model == gpu_model and p.gpu_count >= 1 and (cloud is None or p.cloud.lower() == cloud.lower())
        ]
        if not rows:
            return None
        column = {"spot": "spot_usd_hr", "commit-1y": "commit_1yr_usd_hr", "commit-3y": "commit_3yr_usd_hr"}
        label = capacity_type if capacity_type in column else "on-demand"
        with_column = [p for p in rows if capacity_type in column and getattr(p, column[capacity_type]) is not None]
        if capacity_type in column and not with_column:
            label = f"on-demand (no {capacity_type} prices)"
        used = with_column or rows
        per_gpu = [self._per_gpu(p, capacity_type if with_column else "on-demand") for p in used]
        return statistics.median(per_gpu), label, len(used)

    def _per_gpu(self, price: InstancePrice, capacity_type: str) -> float:
        return price.quote(capacity_type, gpu_share=self.gpu_share).usd_hr / price.gpu_count

    def cheapest_gpu_hour(
        self, *, cloud: str, region: str, gpu_model: str, capacity_type: str = "on-demand"
    ) -> tuple[float, str] | None:
        """Lowest per-GPU hourly price for a GPU in a cloud/region (else any region of the cloud), with its quote text.

        Whole-GPU shapes only: a fractional shape's per-GPU price is not what a whole GPU costs.
        """
        key = normalize_gpu_name(gpu_model) or gpu_model
        cap = normalize_capacity_type(capacity_type)
        cloud_l, region_l = cloud.strip().lower(), region.strip().lower()

        # A per-GPU override is the user's statement of what this GPU costs; it wins over any instance maths.
        ov = self._gpu_override(cloud=cloud, region=region, gpu_model=key)
        if ov is not None and ov.price_per_gpu_usd_hr is not None:
            note = f"; {ov.note}" if ov.note else ""
            detail = f"${ov.price_per_gpu_usd_hr:.2f}/GPU-h {key} for {cloud}/{ov.region or '*'} ({cap}){note}"
            return ov.price_per_gpu_usd_hr, PriceQuote(
                ov.price_per_gpu_usd_hr, PriceBasis.OVERRIDE, ov.ref, detail
            ).text

        def best(candidates: list[InstancePrice]) -> tuple[float, str] | None:
            options = []
            for price in candidates:
                quote = price.quote(cap, asked_region=region, gpu_share=self.gpu_share)
                options.append((quote.usd_hr / price.gpu_count, price.region, price.instance_type, quote, price))
            if not options:
                return None
            per_gpu, _, _, quote, price = min(options)
            detail = f"${per_gpu:.2f}/GPU-h = {quote.detail} ÷ {price.gpu_count:g} GPU"
            return per_gpu, replace(quote, detail=detail).text

        matching = [
            p for p in self._prices.values() if p.cloud.lower() == cloud_l and p.gpu_model == key and p.gpu_count >= 1
        ]
        # region "" rows are cloud-wide overrides, valid in the asked region.
        in_region = best(
            [replace(p, region=p.region or region) for p in matching if p.region.lower() in (region_l, "")]
        )
        return in_region if in_region is not None else best(matching)

    def instance_for_gpus(self, *, cloud: str, region: str, gpu_model: str, gpu_count: int) -> InstancePrice | None:
        """Cheapest on-demand instance with exactly `gpu_count` of that GPU (this region first, else the cloud)."""
        key = normalize_gpu_name(gpu_model) or gpu_model
        cloud_l, region_l = cloud.strip().lower(), region.strip().lower()
        matching = [
            p
            for p in self._prices.values()
            if p.cloud.lower() == cloud_l and p.gpu_model == key and math.isclose(p.gpu_count, gpu_count)
        ]
        in_region = [p for p in matching if p.region.lower() == region_l]
        if in_region:
            return min(in_region, key=lambda p: (p.ondemand_usd_hr, p.instance_type))
        if not matching:
            return None
        return min(matching, key=lambda p: (p.ondemand_usd_hr, p.region, p.instance_type))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per price row (effective prices after refresh/overrides/discount), for the warehouse."""
        out = []
        for price in self.all():
            # For partitioned shapes gpu_memory_gib already is the partition's memory (the CSV's total equals it).
            total = price.gpu_memory_gib * price.gpu_count if price.gpu_count >= 1 else price.gpu_memory_gib
            out.append(
                {
                    "cloud": price.cloud,
                    "region": price.region,
                    "instance_type": price.instance_type,
                    "gpu_model": price.gpu_model,
                    "gpu_count": price.gpu_count,
                    "gpu_memory_gib": price.gpu_memory_gib,
                    "gpu_memory_total_gib": total,
                    "vcpus": price.vcpus,
                    "memory_gib": price.memory_gib,
                    "ondemand_usd_hr": price.ondemand_usd_hr,
                    "spot_usd_hr": price.spot_usd_hr,
                    "commit_1yr_usd_hr": price.commit_1yr_usd_hr,
                    "commit_3yr_usd_hr": price.commit_3yr_usd_hr,
                    "per_gpu_ondemand_usd_hr": price.per_gpu_ondemand_usd_hr,
                    "source": price.source,
                    "snapshot_date": price.snapshot_date,
                    "notes": price.notes,
                    "override": price.override,
                    "discount_pct": price.discount_pct,
                    "origin": price.origin,
                }
            )
        return out


def _overridden(
    price: InstancePrice, usd_hr: float, ov: PriceOverride, *, detail: str = "", per_gpu: bool = False
) -> InstancePrice:
    return replace(
        price,
        ondemand_usd_hr=usd_hr,
        spot_usd_hr=None,
        commit_1yr_usd_hr=None,
        commit_3yr_usd_hr=None,
        source=f"override {ov.ref}",
        snapshot_date=None,
        notes=ov.note,
        override=ov.ref,
        override_detail=detail,
        discount_pct=0.0,
        origin="override",
        per_gpu_priced=per_gpu,
    )
