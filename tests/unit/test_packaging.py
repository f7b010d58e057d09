"""The wheel ships every Python package, the bundled catalogs and every sql/ file."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_python_package_is_listed() -> None:
    on_disk = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "inferops_pipeline").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert on_disk | {"inferops_pipeline.sql"} == set(SETUPTOOLS["packages"])


def test_package_data_globs_cover_sql_and_catalogs() -> None:
    data = SETUPTOOLS["package-data"]
    sql_files = [p.relative_to(ROOT / "sql").as_posix() for p in (ROOT / "sql").rglob("*") if p.is_file()]
    assert sql_files and all(any(fnmatch(f, g) for g in data["inferops_pipeline.sql"]) for f in sql_files)
    csv_files = [
        p.relative_to(ROOT / "inferops_pipeline/catalog").as_posix()
        for p in (ROOT / "inferops_pipeline/catalog/data").iterdir()
    ]
    assert csv_files and all(any(fnmatch(f, g) for g in data["inferops_pipeline.catalog"]) for f in csv_files)
