"""Staging: per-(date, cluster) Parquet versions swapped in atomically; what a write replaces survives until done."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from inferops_pipeline.warehouse import staging as staging_module
from inferops_pipeline.warehouse.staging import Staging, StagingError

DAY = date(2026, 11, 30)


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [f"n{i}" for i in range(n)],
            "gpus": list(range(n)),
            "ready": [i % 2 == 0 for i in range(n)],
            "labels": [{"team": f"t{i}"} for i in range(n)],  # nested values land as JSON text
            "note": [None] * n,
        }
    )


def test_round_trip_with_nested_values_and_empty_tables(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    assert staging.read(day=DAY, cluster="a", asset="k8s_inventory") is None
    staging.write(
        day=DAY, cluster="a", asset="k8s_inventory", tables={"nodes": _frame(3), "pods": pd.DataFrame()}, run_id="r1"
    )
    staged = staging.read(day=DAY, cluster="a", asset="k8s_inventory")
    assert staged is not None and staged.run_id == "r1"
    nodes = staged.tables["nodes"].to_pandas()
    assert list(nodes["name"]) == ["n0", "n1", "n2"] and list(nodes["gpus"]) == [0, 1, 2]
    assert list(nodes["ready"]) == [True, False, True]
    assert nodes["labels"][1] == '{"team": "t1"}'
    assert staged.tables["pods"].num_rows == 0


def test_combine_concatenates_clusters_into_categories(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(2), "empty": pd.DataFrame()})
    staging.write(day=DAY, cluster="b", asset="m", tables={"t": _frame(3).assign(note="x"), "empty": pd.DataFrame()})
    parts = [staging.read(day=DAY, cluster=c, asset="m") for c in ("a", "b")]
    tables = [p.tables for p in parts if p is not None]
    combined = Staging.combine([t["t"] for t in tables], categorical=True)
    assert list(combined["name"]) == ["n0", "n1", "n0", "n1", "n2"]
    assert isinstance(combined["name"].dtype, pd.CategoricalDtype)
    assert combined["note"].isna().sum() == 2 and (combined["note"] == "x").sum() == 3  # all-null column promoted
    assert Staging.combine([t["empty"] for t in tables]).empty


def test_a_rewrite_swaps_whole_versions_and_clusters_stay_apart(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(2)})
    staging.write(day=DAY, cluster="b", asset="m", tables={"t": _frame(5)})
    staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(4)})
    a, b = (staging.read(day=DAY, cluster=c, asset="m") for c in ("a", "b"))
    assert a is not None and b is not None
    assert a.tables["t"].num_rows == 4 and b.tables["t"].num_rows == 5
    assert staging.read(day=date(2026, 12, 1), cluster="a", asset="m") is None


def test_a_failed_write_leaves_the_previous_version_live(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(2)})

    class Boom(pd.DataFrame):
        @property
        def columns(self) -> pd.Index:  # type: ignore[override]
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(9), "u": Boom()})
    staged = staging.read(day=DAY, cluster="a", asset="m")
    assert staged is not None and staged.tables["t"].num_rows == 2


def test_superseded_versions_are_pruned_only_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = Staging(tmp_path)
    first = staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(1)})
    second = staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(2)})
    assert first.exists()  # a load that resolved it a moment ago can still read it
    old = time.time() - staging_module.KEEP_SUPERSEDED_S - 10
    os.utime(first, (old, old))
    os.utime(second, (old, old))
    third = staging.write(day=DAY, cluster="a", asset="m", tables={"t": _frame(3)})
    assert not first.exists() and not second.exists() and third.exists()


def test_cluster_names_stay_one_folder_and_lost_files_are_reported(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    version = staging.write(day=DAY, cluster="../escape", asset="m", tables={"t": _frame(1)})
    assert version.parent.parent == tmp_path / DAY.isoformat()
    (version / "manifest.json").unlink()
    with pytest.raises(StagingError, match="staged ingest unreadable"):
        staging.read(day=DAY, cluster="../escape", asset="m")


def test_staging_older_than_the_keep_window_expires(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    for day in (date(2026, 10, 1), date(2026, 10, 26), date(2026, 11, 30)):
        staging.write(day=day, cluster="a", asset="m", tables={"t": _frame(1)})
    (tmp_path / "not-a-date").mkdir()
    assert staging.expire(loaded=date(2026, 11, 30), keep_days=35) == [date(2026, 10, 1)]
    assert not staging.has_any(date(2026, 10, 1)) and staging.has_any(date(2026, 10, 26))
    assert (tmp_path / "not-a-date").is_dir()
