"""Catalog assets: the day's prices, accelerator specs and model architectures, each replacing that date's rows."""

from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.defs.partitions import daily
from inferops_pipeline.defs.resources import InferopsResource

GROUP = "catalogs"


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Cloud GPU instance prices in force (bundled snapshot, or live price-API rows when pricing.refresh "
    "is enabled; discount; user overrides) with source, snapshot date and origin (bundled / refresh:<cloud> / "
    "override) per row. Materialize it with refresh enabled to refresh prices without the CLI.",
)
def price_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    rows = pd.DataFrame(inferops.prices.rows())
    with inferops.warehouse() as wh:
        count = wh.replace_date("price_catalog", date.fromisoformat(context.partition_key), rows)
    refresh = inferops.price_refresh
    for result in refresh:
        context.log.info(f"price refresh {result.summary()}")
    return dg.MaterializeResult(
        metadata={
            "rows": count,
            "clouds": ", ".join(sorted(rows["cloud"].unique())),
            "rows_by_origin": dg.MetadataValue.json(
                {str(origin): int(n) for origin, n in rows["origin"].value_counts().sort_index().items()}
            ),
            "refresh": dg.MetadataValue.json(
                {
                    r.cloud: {"fetched_on": r.fetched_on.isoformat(), "rows": len(r.rows), "pages": r.pages}
                    for r in refresh
                }
            ),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Accelerator specs (memory, bandwidth, TFLOPS, MIG) keyed by the price catalog's GPU names.",
)
def gpu_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    return _bundled_catalog(context, inferops, "gpu_catalog", GpuCatalog.load_bundled().rows())


@dg.asset(
    group_name=GROUP,
    partitions_def=daily,
    pool="warehouse",
    description="Open-model architectures (params, layers, KV heads, context) used for weight and KV-cache sizing.",
)
def model_catalog(context: dg.AssetExecutionContext, inferops: InferopsResource) -> dg.MaterializeResult:
    return _bundled_catalog(context, inferops, "model_catalog", ModelCatalog.load_bundled().rows())


def _bundled_catalog(
    context: dg.AssetExecutionContext, inferops: InferopsResource, table: str, rows: list[dict[str, Any]]
) -> dg.MaterializeResult:
    """The day's copy of a bundled reference table, so SQL over history sees the catalog each night used."""
    with inferops.warehouse() as wh:
        count = wh.replace_date(table, date.fromisoformat(context.partition_key), pd.DataFrame(rows))
    return dg.MaterializeResult(metadata={"rows": count})
