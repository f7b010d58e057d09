"""Per-(date, cluster) Parquet staging: what one cluster's ingest run hands to the warehouse load, lock-free.

DuckDB allows one writer per file, and with the Kubernetes run launcher each cluster's ingest runs in its own pod.
So ingest runs never open the warehouse: each writes its tables here, and the daily `fleet_ingest` asset (pool
`warehouse`, the single writer) loads every cluster of a date in one transaction.

Layout: `<root>/<date>/cluster=<name>/<asset>.<version>/<table>.parquet` plus `manifest.json`, and a pointer file
`<asset>.current` naming the live version. A write fills a fresh version folder and then swaps the pointer with
`os.replace` (atomic on POSIX), so a reader sees the previous complete write or the new complete write, never a
mix, and two runs of the same cluster and date race harmlessly (the last swap wins, both versions are whole).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import duckdb
import pandas as pd
import pyarrow as pa

from inferops_pipeline.warehouse import flatten_nested

# A superseded version stays this long, so a load that resolved the pointer just before a re-ingest can finish.
KEEP_SUPERSEDED_S = 3600.0


@dataclass(frozen=True)
class Staged:
    """One asset's tables for one cluster and date, as its ingest run wrote them (Arrow: see `combine`)."""

    tables: dict[str, pa.Table]
    written_at: datetime
    run_id: str


class StagingError(RuntimeError):
    """A staged version is unreadable (e.g. the volume lost files); names the folder."""


class Staging:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _folder(self, day: date, cluster: str) -> Path:
        # quote() keeps any cluster name a single path segment; "cluster=" keeps it from being "." or "..".
        return self.root / day.isoformat() / f"cluster={quote(cluster, safe='')}"

    def write(
        self, *, day: date, cluster: str, asset: str, tables: Mapping[str, pd.DataFrame], run_id: str = ""
    ) -> Path:
        """All `tables` of one asset for one cluster and date, all or nothing; returns the version folder."""
        folder = self._folder(day, cluster)
        version = folder / f"{asset}.{time.time_ns():020d}.{uuid.uuid4().hex[:8]}"
        version.mkdir(parents=True)
        counts: dict[str, int] = {}
        connection = duckdb.connect()
        try:
            for table, frame in tables.items():
                counts[table] = len(frame)
                if len(frame.columns):  # a frame built from no rows has no columns: nothing to write
                    connection.from_df(flatten_nested(frame)).write_parquet(str(version / f"{table}.parquet"))
        finally:
            connection.close()
        manifest = {"tables": counts, "written_at": datetime.now(UTC).isoformat(), "run_id": run_id}
        (version / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
        pointer = folder / f"{asset}.current"
        partial = folder / f".{asset}.current.{uuid.uuid4().hex[:8]}"
        partial.write_text(version.name)
        os.replace(partial, pointer)
        self._prune(folder, asset, keep=version.name)
        return version

    def read(self, *, day: date, cluster: str, asset: str) -> Staged | None:
        """The live version of one asset for one cluster and date, or None when no ingest run has written it."""
        folder = self._folder(day, cluster)
        pointer = folder / f"{asset}.current"
        if not pointer.exists():
            return None
        version = folder / pointer.read_text().strip()
        try:
            manifest = json.loads((version / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise StagingError(f"{version}: staged ingest unreadable ({exc})") from None
        tables: dict[str, pa.Table] = {}
        connection = duckdb.connect()
        try:
            for table in manifest["tables"]:
                path = version / f"{table}.parquet"
                tables[table] = connection.read_parquet(str(path)).to_arrow_table() if path.exists() else pa.table({})
        except duckdb.Error as exc:
            raise StagingError(f"{version}: staged ingest unreadable ({exc})") from None
        finally:
            connection.close()
        return Staged(tables, datetime.fromisoformat(manifest["written_at"]), manifest.get("run_id", ""))

    @staticmethod
    def combine(parts: list[pa.Table], *, categorical: bool = False) -> pd.DataFrame:
        """Several clusters' copies of one table as one frame, concatenated in Arrow (no Python strings made).

        `categorical`: text comes out as categories, one string object per distinct value — for the metrics table
        (~1M rows at 20,000 GPUs, several hundred MiB as object columns). Not for tables with JSON columns: DuckDB
        would cast the category (an ENUM) to a JSON string rather than parse it."""
        kept = [p for p in parts if p.num_columns]  # a table staged from no rows has no columns
        if not kept:
            return pd.DataFrame()
        return pa.concat_tables(kept, promote_options="permissive").to_pandas(strings_to_categorical=categorical)

    def has_any(self, day: date) -> bool:
        return (self.root / day.isoformat()).is_dir()

    def expire(self, *, loaded: date, keep_days: int) -> list[date]:
        """Delete the staging of dates more than `keep_days` before `loaded`; returns them."""
        cutoff = loaded - timedelta(days=keep_days)
        gone = []
        for folder in self.root.glob("????-??-??"):
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                continue
            if day < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(day)
        return sorted(gone)

    def _prune(self, folder: Path, asset: str, *, keep: str) -> None:
        cutoff = time.time() - KEEP_SUPERSEDED_S
        for old in folder.glob(f"{asset}.*"):
            if old.is_dir() and old.name != keep and old.stat().st_mtime < cutoff:
                for file in old.iterdir():
                    file.unlink(missing_ok=True)
                old.rmdir()
