"""The assessment graph run in-process for one date (CLI, tests, benchmarks): each cluster's ingest, then the rest.

The same two jobs the daemon runs (defs/schedules.py), in the same order, so `inferops assess` and the nightly run
cannot drift apart: per-cluster ingest runs stage their tables, then one daily run per stage group loads and
derives everything else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import dagster as dg

from inferops_pipeline.definitions import ALL_ASSETS, ALL_CHECKS
from inferops_pipeline.defs.partitions import cluster_partition, register_clusters
from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.defs.schedules import DAILY_GROUPS, INGEST_GROUP

STAGES: tuple[str, ...] = (INGEST_GROUP, *DAILY_GROUPS)
# `inferops assess` prints its findings instead of writing the fleet report.
UP_TO_RECOMMENDATIONS = STAGES[:-1]


@dataclass(frozen=True)
class StageRun:
    stage: str  # a group name; "ingest <cluster>" for each cluster's ingest run
    result: dg.ExecuteInProcessResult
    seconds: float


def run_date(
    day: str,
    *,
    resources: Mapping[str, Any],
    instance: dg.DagsterInstance | None = None,
    stages: Sequence[str] = STAGES,
    raise_on_error: bool = True,
    run_config: Mapping[str, Any] | None = None,
) -> Iterator[StageRun]:
    """One run per cluster for the ingest stage, one per other stage; a caller that stops iterating stops there."""
    instance = instance or dg.DagsterInstance.ephemeral()
    inferops = cast(InferopsResource, resources["inferops"])
    names = [c.name for c in inferops.settings.clusters]
    register_clusters(instance, names)
    definitions = [*cast(list[dg.AssetsDefinition], ALL_ASSETS), *ALL_CHECKS]  # module loading types them loosely
    for stage in stages:
        if stage == INGEST_GROUP:
            runs = [(f"{stage} {name}", str(cluster_partition(day, name))) for name in names]
        else:
            runs = [(stage, day)]
        for label, partition in runs:
            began = time.perf_counter()
            result = dg.materialize(
                definitions,
                selection=dg.AssetSelection.groups(stage),
                partition_key=partition,
                resources=dict(resources),
                instance=instance,
                raise_on_error=raise_on_error,
                run_config=dict(run_config or {}),
            )
            yield StageRun(label, result, time.perf_counter() - began)


def materialize_date(day: str, **kwargs: Any) -> list[StageRun]:
    """Every stage of `day`, raising on the first failure."""
    return list(run_date(day, **kwargs))
