"""Partitions: the daily assessment date, and date × cluster for the per-cluster ingest assets."""

import warnings
from datetime import date

import dagster as dg

daily = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)

# Dynamic, not read from the settings file at code load: the nightly schedule (and the in-process runner) add the
# configured clusters, so a config change needs no code reload and tests can use any cluster names.
CLUSTERS = "clusters"
clusters = dg.DynamicPartitionsDefinition(name=CLUSTERS)

DATE, CLUSTER = "date", "cluster"
daily_by_cluster = dg.MultiPartitionsDefinition({DATE: daily, CLUSTER: clusters})

# A daily asset reads every cluster partition of its date. The mapping is marked beta; what we rely on (a daily
# key selects every cluster of that date) is exercised by tests/integration/test_parallel_ingest.py.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    EVERY_CLUSTER_OF_THE_DATE = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=DATE)


def cluster_partition(day: str, cluster: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE: day, CLUSTER: cluster})


def date_and_cluster(partition_key: str) -> tuple[date, str]:
    keys = daily_by_cluster.get_partition_key_from_str(partition_key).keys_by_dimension
    return date.fromisoformat(keys[DATE]), keys[CLUSTER]


def register_clusters(instance: dg.DagsterInstance, names: list[str]) -> None:
    """Adds the cluster partitions a run is about to use (idempotent)."""
    known = set(instance.get_dynamic_partitions(CLUSTERS))
    missing = [name for name in names if name not in known]
    if missing:
        instance.add_dynamic_partitions(CLUSTERS, missing)
