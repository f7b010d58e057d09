"""Shared fixtures: one demo fleet per session, written to a temp dir."""

from pathlib import Path

import pytest

from inferops_pipeline.defs.resources import demo_config_path


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("demo") / "fleet"
    demo_config_path(target)
    return target
