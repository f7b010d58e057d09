"""Price inputs: bundled catalog, live-refreshed rows, the user's overrides CSV (negotiated / on-prem) and discount."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

from inferops_pipeline.catalog.gpus import normalize_gpu_name
from inferops_pipeline.catalog.prices import GpuShare, InstancePrice, PriceCatalog, PriceOverride
from inferops_pipeline.settings import ConfigError

__all__ = ["GpuShare", "PriceOverride", "load_price_catalog", "load_price_overrides"]

REQUIRED_COLUMNS = ("cloud", "region")
OPTIONAL_COLUMNS = ("instance_type", "price_usd_hr", "gpu_model", "price_per_gpu_usd_hr", "note")
_KNOWN_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)


def _price(value: str, *, where: str, field: str) -> float:
    try:
        price = float(value)
    except ValueError:
        raise ConfigError(f"{where}: {field} {value!r} is not a number") from None
    if not math.isfinite(price):
        raise ConfigError(f"{where}: {field} {value!r} is not a finite number")
    if price < 0:
        raise ConfigError(f"{where}: {field} {value!r} is negative")
    return price


def load_price_overrides(path: Path | str) -> list[PriceOverride]:
    """Read an overrides CSV: per row either instance_type + price_usd_hr (per instance-hour) or
    gpu_model + price_per_gpu_usd_hr (per GPU-hour). Blank region = every region of the cloud; lines starting
    with '#' are comments. Raises ConfigError naming file, line and field on any bad input."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read price overrides: {exc.strerror or exc}") from None

    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")] if text else []
    # Keep physical line numbers for messages even though comment lines are skipped.
    numbers = [i for i, line in enumerate(text.splitlines(), start=1) if not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ConfigError(f"{name}: empty price overrides file (expected a header row with cloud, region, ...)")
    header_line = numbers[0]
    unknown = [h for h in header if h not in _KNOWN_COLUMNS]
    if unknown:
        raise ConfigError(f"{name}:{header_line}: unknown column {unknown[0]!r} (expected {', '.join(_KNOWN_COLUMNS)})")
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise ConfigError(f"{name}:{header_line}: missing column {column!r}")
    has_instance = "instance_type" in header and "price_usd_hr" in header
    has_gpu = "gpu_model" in header and "price_per_gpu_usd_hr" in header
    if not (has_instance or has_gpu):
        raise ConfigError(
            f"{name}:{header_line}: missing columns: need instance_type + price_usd_hr or "
            "gpu_model + price_per_gpu_usd_hr"
        )
    reader.fieldnames = header

    overrides: list[PriceOverride] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for row in reader:
        line = numbers[reader.line_num - 1]
        where = f"{name}:{line}"
        if None in row:
            raise ConfigError(f"{where}: more fields than the header has columns")
        cell = {k: (v or "").strip() for k, v in row.items()}
        if not any(cell.values()):
            continue
        cloud = cell["cloud"].lower()
        if not cloud:
            raise ConfigError(f"{where}: cloud is empty")
        instance_type = cell.get("instance_type", "")
        raw_gpu = cell.get("gpu_model", "")
        raw_price = cell.get("price_usd_hr", "")
        raw_per_gpu = cell.get("price_per_gpu_usd_hr", "")
        if raw_price and raw_per_gpu:
            raise ConfigError(f"{where}: set price_usd_hr or price_per_gpu_usd_hr, not both")
        if not raw_price and not raw_per_gpu:
            raise ConfigError(f"{where}: price_usd_hr and price_per_gpu_usd_hr are both empty")

        price = per_gpu = None
        gpu_model = ""
        if raw_price:
            if not instance_type:
                raise ConfigError(f"{where}: instance_type is empty but price_usd_hr is set")
            price = _price(raw_price, where=where, field="price_usd_hr")
        else:
            if not raw_gpu:
                raise ConfigError(f"{where}: gpu_model is empty but price_per_gpu_usd_hr is set")
            normalized = normalize_gpu_name(raw_gpu)
            if normalized is None:
                raise ConfigError(f"{where}: gpu_model {raw_gpu!r} is not a GPU the catalog knows")
            gpu_model = normalized
            per_gpu = _price(raw_per_gpu, where=where, field="price_per_gpu_usd_hr")
            instance_type = ""

        region = cell["region"].lower()
        key = (cloud, region, instance_type.lower(), gpu_model)
        if key in seen:
            raise ConfigError(f"{where}: duplicates the override on line {seen[key]}")
        seen[key] = line
        overrides.append(
            PriceOverride(
                cloud=cloud,
                region=region,
                instance_type=instance_type,
                gpu_model=gpu_model,
                price_usd_hr=price,
                price_per_gpu_usd_hr=per_gpu,
                note=cell.get("note", ""),
                file=name,
                line=line,
            )
        )
    return overrides


def load_price_catalog(
    *,
    overrides: Path | str | None = None,
    discount_pct: float = 0.0,
    refreshed: Iterable[InstancePrice] = (),
    gpu_share: GpuShare | None = None,
) -> PriceCatalog:
    """The catalog in force: bundled snapshot ← live-refreshed rows (if any) − blanket discount ← user overrides
    (undiscounted, they always win), then the GPU-share attribution if configured."""
    catalog = PriceCatalog.load_bundled().with_refreshed(refreshed).discounted(discount_pct)
    if overrides is not None:
        catalog = catalog.with_overrides(load_price_overrides(overrides))
    return catalog.with_gpu_share(gpu_share)
