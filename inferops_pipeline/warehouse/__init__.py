"""DuckDB warehouse: schema application, named sql/ files with bound parameters, per-date replacement."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd


def _schema_version() -> int:
    """1 plus the highest sql/migrations/NNN_*.sql number; migrations are idempotent (`add column if not exists`)."""
    numbers = [int(f.name.split("_", 1)[0]) for f in (_sql_root() / "migrations").glob("*.sql")]
    return max([1, *numbers])


_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def _sql_root() -> Path:
    """sql/ ships as package data (inferops_pipeline.sql); in a source checkout it is the top-level folder."""
    try:
        packaged = Path(str(resources.files("inferops_pipeline.sql")))
        if (packaged / "schema").is_dir():
            return packaged
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "sql"


@cache
def sql_text(name: str) -> str:
    """`name` is a path under sql/ without the .sql suffix, e.g. 'queries/workloads_on'."""
    path = _sql_root() / f"{name}.sql"
    return path.read_text()


def _statements(text: str) -> list[str]:
    # Our SQL files never put ';' inside string literals, so a split is exact.
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def _bind(statement: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Pass each statement exactly the named parameters it uses (DuckDB rejects extras)."""
    wanted = set(_PARAM.findall(statement))
    missing = wanted - params.keys()
    if missing:
        raise KeyError(f"sql parameter(s) not supplied: {', '.join(sorted(missing))}")
    return {key: params[key] for key in wanted}


def flatten_nested(frame: pd.DataFrame) -> pd.DataFrame:
    """Nested values (dicts, lists, tuples) become JSON text: the warehouse's JSON columns and Parquet want scalars."""
    nested = [
        column
        for column in frame.columns
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, dict | list | tuple)).any()
    ]
    if not nested:
        return frame
    return frame.assign(
        **{column: frame[column].map(lambda v: json.dumps(v, sort_keys=True, default=str)) for column in nested}
    )


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    # Replacement scans would let any local Python variable shadow a table name (DESIGN §6).
    con.execute("set python_enable_replacements = false")
    return con


class Warehouse:
    """Thin, typed wrapper over one DuckDB connection; every statement comes from sql/."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._depth = 0  # nested transaction() blocks join the outermost one

    def apply_schema(self) -> None:
        root = _sql_root()
        with self.transaction():
            # Migrations come before views: a view may name a column an older warehouse lacks.
            for folder in ("schema", "migrations", "views"):
                for file in sorted((root / folder).glob("*.sql")):
                    for statement in _statements(file.read_text()):
                        self.con.execute(statement)
            current = int(self.scalar("queries/schema_version_current") or 0)
            if current > _schema_version():
                raise RuntimeError(
                    f"warehouse schema version {current} is newer than this inferops ({_schema_version()}); upgrade inferops"
                )
            self.run("load/schema_version_record", version=_schema_version())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing; an inner block joins the outer one, so several replace_date calls (one asset's tables)
        commit together and a failure midway leaves every table as it was."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("begin transaction")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        finally:
            self._depth = 0
        self.con.execute("commit")

    def run(self, name: str, **params: Any) -> None:
        for statement in _statements(sql_text(name)):
            self.con.execute(statement, _bind(statement, params))

    def query(self, name: str, *, categorical: bool = False, **params: Any) -> pd.DataFrame:
        """`categorical`: text columns come back as pandas categories, one Python string per distinct value instead
        of one per cell (the metrics table has ~50 rows per GPU: ~1M at 20,000 GPUs)."""
        statements = _statements(sql_text(name))
        if len(statements) != 1:
            raise ValueError(f"sql/{name}.sql must hold exactly one query")
        bound = _bind(statements[0], params)
        if categorical:
            return self.con.sql(statements[0], params=bound).to_arrow_table().to_pandas(strings_to_categorical=True)
        return self.con.execute(statements[0], bound).df()

    def scalar(self, name: str, **params: Any) -> Any:
        frame = self.query(name, **params)
        return None if frame.empty else frame.iloc[0, 0]

    def replace_date(self, table: str, assessment_date: date, frame: pd.DataFrame, **params: Any) -> int:
        """Swap one date's rows for `frame` atomically: a failure leaves the previous rows intact."""
        incoming = flatten_nested(frame.assign(assessment_date=assessment_date))
        self.con.register("incoming", incoming)
        try:
            with self.transaction():
                self.run(f"load/{table}", assessment_date=assessment_date, **params)
        finally:
            self.con.unregister("incoming")
        return len(incoming)

    def frame_on(self, table: str, assessment_date: date, *, categorical: bool = False) -> pd.DataFrame:
        return self.query(f"queries/{table}_on", categorical=categorical, assessment_date=assessment_date)


def open_warehouse(path: Path | str) -> Warehouse:
    warehouse = Warehouse(connect(path))
    warehouse.apply_schema()
    return warehouse


def read_only_query(path: Path | str, statement: str) -> pd.DataFrame:
    """`inferops sql`: the user's own statement against a read-only connection (nothing to bind)."""
    con = connect(path, read_only=True)
    try:
        return con.execute(statement).df()
    finally:
        con.close()
