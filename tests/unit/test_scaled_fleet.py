"""`inferops demo-fleet --gpus N`: a benchmark-sized fleet whose inventory and OpenMetrics name the same pods."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from inferops_pipeline.cli import EXIT_BAD_INPUT, app


def test_scaled_fleet_inventory_matches_its_series(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo-fleet", "--out", str(tmp_path), "--gpus", "16"])
    assert result.exit_code == 0, result.output
    assert "2 nodes, 16 GPUs, 8 pods" in result.output
    inventory = tmp_path / "inventory" / "bench"
    nodes = json.loads((inventory / "nodes.json").read_text())["items"]
    pods = json.loads((inventory / "pods.json").read_text())["items"]
    assert len(nodes) == 2 and len(pods) == 8
    files = sorted((tmp_path / "openmetrics").glob("*.om"))
    assert files, "no OpenMetrics written"
    series_pods: set[str] = set()
    for file in files:
        text = file.read_text()
        assert text.endswith("# EOF\n"), f"{file.name}: promtool needs the # EOF trailer"
        series_pods |= set(re.findall(r'\bpod="([^"]+)"', text))
    assert {p["metadata"]["name"] for p in pods} == series_pods


def test_scaled_fleet_needs_one_node(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo-fleet", "--out", str(tmp_path), "--gpus", "4"])
    assert result.exit_code == EXIT_BAD_INPUT and "at least 8" in result.output
