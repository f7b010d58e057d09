"""Warehouse rows ⇄ domain dataclasses, so assets pass typed rows to the pure core."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, TypeVar

import pandas as pd

from inferops_pipeline.domain import MetricRow, PodRow, Workload, WorkloadMetrics

T = TypeVar("T")


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


# JSON columns that come back from DuckDB as text and are tuples / dicts on the dataclasses.
_JSON_TUPLES = frozenset({"engine_args", "nodes", "taints", "env_names", "ignore"})
_JSON_DICTS = frozenset({"engine_facts", "placement", "gpu_resources"})


def rows_to(cls: type[T], frame: pd.DataFrame) -> list[T]:
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    out = []
    for record in _records(frame):
        kwargs: dict[str, Any] = {}
        for name in names:
            if name not in record:
                continue
            value = _clean(record[name])
            if name in _JSON_TUPLES:
                value = tuple(json.loads(value)) if isinstance(value, str) else tuple(value or ())
            elif name in _JSON_DICTS:
                value = json.loads(value) if isinstance(value, str) else dict(value or {})
            elif name == "metrics":
                value = WorkloadMetrics(**json.loads(value)) if isinstance(value, str) else WorkloadMetrics()
            kwargs[name] = value
        out.append(cls(**kwargs))
    return out


def _records(frame: pd.DataFrame, *, chunk: int = 10_000) -> Iterator[dict[Hashable, Any]]:
    # Slice by slice: one dict per row for the whole frame at once would double the peak memory of the model stage.
    for start in range(0, len(frame), chunk):
        yield from frame.iloc[start : start + chunk].to_dict(orient="records")


def to_frame(rows: Iterable[Any], *, extra: dict[str, Any] | None = None) -> pd.DataFrame:
    records = []
    for row in rows:
        record = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
        if isinstance(row, Workload):
            record["metrics"] = dataclasses.asdict(row.metrics)
            record["monthly_cost_usd"] = row.monthly_cost_usd
        for key, value in record.items():
            if isinstance(value, tuple):
                record[key] = list(value)
        records.append(record | (extra or {}))
    return pd.DataFrame(records)


def metric_rows(frame: pd.DataFrame) -> list[MetricRow]:
    return rows_to(MetricRow, frame)


def pod_rows(frame: pd.DataFrame) -> list[PodRow]:
    return rows_to(PodRow, frame)


def workloads(frame: pd.DataFrame) -> list[Workload]:
    return rows_to(Workload, frame)


def markdown_preview(frame: pd.DataFrame, *, limit: int = 15) -> str:
    """A small Markdown table for asset metadata (tabulate comes with dagster)."""
    return str(frame.head(limit).to_markdown(index=False)) if not frame.empty else "_no rows_"
