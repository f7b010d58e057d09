"""GPU instance prices (bundled gpu_instance_prices.csv, user overrides, blanket discount) and price look-ups."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date
from importlib import resources
from typing import Any

from inferops_pipeline.catalog.gpus import normalize_gpu_name

_CAPACITY_ALIASES = {
    "on-demand": "on-demand",
    "ondemand": "on-demand",
    "on_demand": "on-demand",
    "regular": "on-demand",
    "spot": "spot",
    "preemptible": "spot",
    "reserved": "reserved",
    "committed": "reserved",
}


def normalize_capacity_type(capacity_type: str) -> str:
    """'on-demand' | 'spot' | 'reserved'; ValueError on anything else so a typo never silently prices as on-demand."""
    key = capacity_type.strip().lower()
    if key not in _CAPACITY_ALIASES:
        raise ValueError(f"unknown capacity type {capacity_type!r} (expected on-demand, spot or reserved)")
    return _CAPACITY_ALIASES[key]


def _short_source(source: str) -> str:
    # The CSV appends '; specs: ...' (where the shape came from); a price basis only needs where the price came from.
    return source.split("; specs:")[0].strip()


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
        return f"override {self.file}:{self.line}"


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
    override: str = ""  # basis prefix when a user override set the price, e.g. "override prices.csv:3"
    discount_pct: float = 0.0  # blanket discount already applied to the price columns
    region_fallback_from: str = ""  # set on look-up results priced from another region than asked

    @property
    def per_gpu_ondemand_usd_hr(self) -> float | None:
        return self.ondemand_usd_hr / self.gpu_count if self.gpu_count > 0 else None

    def hourly(self, capacity_type: str) -> tuple[float, str]:
        """Instance price per hour for 'on-demand' | 'spot' | 'reserved', and the basis that traces it to a row."""
        cap = normalize_capacity_type(capacity_type)
        where = f"{self.cloud}/{self.region}/{self.instance_type}"
        fallback = f"; region fallback from {self.region_fallback_from}" if self.region_fallback_from else ""
        if self.override:
            # A negotiated or on-prem price is what is paid whatever the node's capacity type.
            note = f"; {self.notes}" if self.notes else ""
            price = self.ondemand_usd_hr
            return price, f"{self.override} {where} ${price:.2f}/h for {cap}{note}{fallback}"

        if cap == "spot" and self.spot_usd_hr is not None:
            price, label = self.spot_usd_hr, "spot"
        elif cap == "spot":
            price, label = self.ondemand_usd_hr, "on-demand (no spot price in catalog)"
        elif cap == "reserved" and self.commit_1yr_usd_hr is not None:
            price, label = self.commit_1yr_usd_hr, "1-year commitment"
        elif cap == "reserved":
            price, label = self.ondemand_usd_hr, "on-demand (no commitment price in catalog)"
        else:
            price, label = self.ondemand_usd_hr, "on-demand"
        snapshot = self.snapshot_date.isoformat() if self.snapshot_date else "undated"
        discount = ""
        if self.discount_pct:
            list_price = price / (1 - self.discount_pct / 100)
            discount = f" after {self.discount_pct:g}% discount (list ${list_price:.2f}/h)"
        basis = (
            f"catalog {where} {label} ${price:.2f}/h{discount} "
            f"(source {_short_source(self.source)}, snapshot {snapshot}{fallback})"
        )
        return price, basis


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


def _region_preference(asked: str) -> Callable[[InstancePrice], tuple[int, str]]:
    # For a region the catalog lacks, prefer a region on the same continent prefix (us-*, eu-*/europe-*), then by name.
    asked_prefix = asked.lower().split("-")[0][:2]

    def rank(price: InstancePrice) -> tuple[int, str]:
        return (0 if price.region.lower()[:2] == asked_prefix else 1, price.region)

    return rank


class PriceCatalog:
    """Instance prices keyed by (cloud, region, instance_type), with overrides and discount applied."""

    def __init__(
        self,
        prices: Iterable[InstancePrice],
        *,
        gpu_overrides: Iterable[PriceOverride] = (),
    ) -> None:
        self._prices: dict[tuple[str, str, str], InstancePrice] = {}
        for price in prices:
            self._prices[_key(price.cloud, price.region, price.instance_type)] = price
        self._gpu_overrides = tuple(gpu_overrides)

    @classmethod
    def load_bundled(cls) -> PriceCatalog:
        path = resources.files("inferops_pipeline.catalog").joinpath("data/gpu_instance_prices.csv")
        rows = csv.DictReader(path.read_text("utf-8").splitlines())
        return cls(_row_to_price(row) for row in rows)

    def all(self) -> list[InstancePrice]:
        return sorted(self._prices.values(), key=lambda p: (p.cloud, p.region, p.instance_type))

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
                        f"{ov.ref} (${per_gpu:.2f}/GPU-h × {price.gpu_count:g} {ov.gpu_model})",
                        ov.note,
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
                prices[key] = _overridden(prices[key], ov.price_usd_hr, ov.ref, ov.note)
            if not matched or not ov.region:
                # A type/region the catalog lacks (on-prem, a new region) or a cloud-wide override: add a row, with
                # the shape borrowed from any region of the same type so GPU facts survive. Region "" marks a
                # cloud-wide row that lookup() uses for any region without a row of its own.
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
                key = _key(ov.cloud, ov.region, ov.instance_type)
                prices[key] = _overridden(base, ov.price_usd_hr, ov.ref, ov.note)

        return PriceCatalog(prices.values(), gpu_overrides=(*self._gpu_overrides, *gpu_rows))

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
        return PriceCatalog(prices, gpu_overrides=self._gpu_overrides)

    def lookup(self, *, cloud: str, region: str, instance_type: str) -> tuple[InstancePrice, str] | None:
        """The price row for an instance type: exact region, else a cloud-wide override, else another region.

        The second element says how it matched ('exact region', 'cloud-wide override' or 'region fallback from
        <asked> to <used>'); a fallback row also carries `region_fallback_from`, so its hourly() basis says so.
        """
        exact = self._prices.get(_key(cloud, region, instance_type))
        if exact is not None:
            return exact, "exact region"
        wildcard = self._prices.get(_key(cloud, "", instance_type))
        if wildcard is not None:
            return replace(wildcard, region=region), "cloud-wide override"
        candidates = [
            p
            for k, p in self._prices.items()
            if k[0] == cloud.strip().lower() and k[2] == instance_type.strip().lower() and k[1]
        ]
        if not candidates:
            return None
        chosen = min(candidates, key=_region_preference(region))
        return replace(chosen, region_fallback_from=region), f"region fallback from {region} to {chosen.region}"

    def cheapest_gpu_hour(
        self, *, cloud: str, region: str, gpu_model: str, capacity_type: str = "on-demand"
    ) -> tuple[float, str] | None:
        """Lowest per-GPU hourly price for a GPU in a cloud/region (else any region of the cloud), with its basis.

        Whole-GPU shapes only: a fractional shape's per-GPU price is not what a whole GPU costs.
        """
        key = normalize_gpu_name(gpu_model) or gpu_model
        cloud_l, region_l = cloud.strip().lower(), region.strip().lower()

        # A per-GPU override is the user's statement of what this GPU costs; it wins over any instance maths.
        for want_region in (region_l, ""):
            for ov in reversed(self._gpu_overrides):
                if ov.cloud.lower() == cloud_l and ov.region.lower() == want_region and ov.gpu_model == key:
                    assert ov.price_per_gpu_usd_hr is not None
                    note = f"; {ov.note}" if ov.note else ""
                    return ov.price_per_gpu_usd_hr, (
                        f"{ov.ref} {cloud}/{region} {key} ${ov.price_per_gpu_usd_hr:.2f}/GPU-h{note}"
                    )

        def best(candidates: list[InstancePrice]) -> tuple[float, str] | None:
            options = []
            for price in candidates:
                hourly, basis = price.hourly(capacity_type)
                options.append((hourly / price.gpu_count, price.region, price.instance_type, basis, price.gpu_count))
            if not options:
                return None
            per_gpu, _, _, basis, count = min(options)
            return per_gpu, f"${per_gpu:.2f}/GPU-h = {basis} ÷ {count:g} GPU"

        matching = [
            p for p in self._prices.values() if p.cloud.lower() == cloud_l and p.gpu_model == key and p.gpu_count >= 1
        ]
        # region "" rows are cloud-wide overrides, valid in the asked region.
        in_region = best(
            [replace(p, region=p.region or region) for p in matching if p.region.lower() in (region_l, "")]
        )
        if in_region is not None:
            return in_region
        elsewhere = best([replace(p, region_fallback_from=region) for p in matching])
        return elsewhere

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
        chosen = min(matching, key=lambda p: (p.ondemand_usd_hr, p.region, p.instance_type))
        return replace(chosen, region_fallback_from=region)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per price row (effective prices after overrides/discount), for the warehouse."""
        out = []
        for price in self.all():
            row = asdict(price)
            row["per_gpu_ondemand_usd_hr"] = price.per_gpu_ondemand_usd_hr
            # For partitioned shapes gpu_memory_gib already is the partition's memory (the CSV's total equals it).
            whole = price.gpu_count >= 1
            row["gpu_memory_total_gib"] = price.gpu_memory_gib * price.gpu_count if whole else price.gpu_memory_gib
            out.append(row)
        return out


def _overridden(price: InstancePrice, usd_hr: float, ref: str, note: str) -> InstancePrice:
    return replace(
        price,
        ondemand_usd_hr=usd_hr,
        spot_usd_hr=None,
        commit_1yr_usd_hr=None,
        commit_3yr_usd_hr=None,
        source=ref,
        snapshot_date=None,
        notes=note,
        override=ref,
        discount_pct=0.0,
    )
