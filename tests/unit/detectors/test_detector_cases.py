"""Data-driven detector cases: cases/<finding_type>.yaml overrides of base.yaml, run through detect_all, compared."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferops_pipeline.catalog.gpus import GpuCatalog
from inferops_pipeline.catalog.models import ModelCatalog
from inferops_pipeline.detectors.context import Catalogs, DetectorContext
from inferops_pipeline.detectors.engine import detect_all
from inferops_pipeline.detectors.registry import detectors
from inferops_pipeline.domain import HOURS_PER_MONTH, Finding, FindingType, GpuNode, Workload, WorkloadMetrics
from inferops_pipeline.settings import Thresholds
from inferops_pipeline.sources.pricing import load_price_catalog

HERE = Path(__file__).parent
CASES_DIR = HERE / "cases"
BASE_FILE = HERE / "base.yaml"
# Cross-detector cases (healthy base, precedence, settling) live here and compare every finding type.
ENGINE_FILE = "engine"
TYPES = {t.value for t in FindingType}
ASSESSMENT_DATE = date(2026, 7, 21)
MONEY_REL_TOL = 0.005
# Every finding-type file must hold at least one case whose name starts with each of these.
REQUIRED_KINDS = ("positive", "negative", "boundary", "missing data")

CASE_KEYS = {"name", "workload", "workloads", "nodes", "add_nodes", "thresholds", "compare", "expect", "xfail"}
EXPECT_KEYS = {
    "type",
    "workload",
    "monthly_waste_usd",
    "monthly_at_risk_usd",
    "severity",
    "confidence",
    "evidence",
    "suppressed",
}

# What disappears when one exporter is not scraped: its sample count drops to 0 and its values to None.
METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    "gpu": (
        "gpu_samples",
        "gpu_util_mean",
        "gpu_util_p95",
        "gpu_fb_used_max_frac",
        "gpu_fb_free_min_frac",
        "gpu_power_mean_w",
    ),
    "serving": (
        "serving_samples",
        "kv_usage_p95",
        "kv_usage_max",
        "kv_pool_tokens",
        "requests_running_max",
        "requests_running_p95",
        "requests_running_p99",
        "requests_waiting_max",
        "preemptions",
        "generation_tokens",
        "prompt_tokens",
        "request_tokens_mean",
        "ttft_p95_s",
        "request_rate_peak",
        "request_rate_mean",
        "request_rate_trough",
    ),
    "container": (
        "container_samples",
        "cpu_usage_p95",
        "cpu_throttle_ratio",
        "memory_ws_max_bytes",
        "restarts",
        "oom_killed",
    ),
}

_BYTES = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?\s*$")
_UNITS = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


@dataclass(frozen=True)
class Case:
    file_type: str
    name: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file_type}::{self.name}"


def _bytes(value: Any) -> Any:
    """'48Gi' / '90G' → bytes, so an SRE can write memory the way a pod spec does."""
    if not isinstance(value, str):
        return value
    match = _BYTES.match(value)
    if match is None:
        raise ValueError(f"not a byte quantity: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@cache
def _base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BASE_FILE.read_text())
    return data


@cache
def _catalogs() -> Catalogs:
    # The same bundled catalogs defs/findings/assets.py hands the detectors (no overrides, no discount).
    return Catalogs(prices=load_price_catalog(), gpus=GpuCatalog.load_bundled(), models=ModelCatalog.load_bundled())


def build_workload(override: dict[str, Any]) -> Workload:
    spec = dict(override)
    base = _base()
    merged: dict[str, Any] = base["workload"]
    profile = spec.pop("profile", None)
    if profile is not None:
        merged = _merge(merged, base["profiles"][profile])
    merged = _merge(merged, spec)
    absent = merged.pop("metrics_absent", []) or []
    metrics = dict(merged.pop("metrics"))
    for group in absent:
        for name in METRIC_GROUPS[group]:
            metrics.pop(name, None)  # falls back to the dataclass default: 0 samples / None
    metrics = {k: _bytes(v) if k.endswith("_bytes") else v for k, v in metrics.items()}
    fields_ = {k: _bytes(v) if k.endswith("_bytes") else v for k, v in merged.items()}
    fields_.setdefault("running_pods", fields_["replicas"] - fields_["pending_pods"])
    fields_.setdefault("tensor_parallel", fields_["gpus_per_replica"])
    fields_.setdefault(
        "hourly_cost_usd", fields_["running_pods"] * fields_["gpus_per_replica"] * fields_["gpu_hour_usd"]
    )
    fields_["nodes"] = tuple(fields_.get("nodes", ()))
    fields_["engine_args"] = tuple(fields_.get("engine_args", ()))
    fields_["ignore"] = tuple(fields_.get("ignore", ()))
    return Workload(**fields_, metrics=WorkloadMetrics(**metrics))


def build_node(override: dict[str, Any]) -> GpuNode:
    fields_ = {**_base()["node_defaults"], **override}
    capacity = fields_["gpu_capacity"]
    fields_.setdefault("gpu_hour_usd", fields_["hourly_cost_usd"] / capacity if capacity else 0.0)
    return GpuNode(**fields_)


def run_case(spec: dict[str, Any]) -> tuple[list[Workload], list[GpuNode], list[Finding]]:
    if "workloads" in spec:
        workloads = [build_workload(w or {}) for w in spec["workloads"]]
    else:
        workloads = [build_workload(spec.get("workload") or {})]
    node_specs = spec["nodes"] if "nodes" in spec else _base()["nodes"]
    nodes = [build_node(n) for n in [*node_specs, *spec.get("add_nodes", [])]]
    ctx = DetectorContext(
        assessment_date=ASSESSMENT_DATE,
        workloads=workloads,
        nodes=nodes,
        catalogs=_catalogs(),
        thresholds=Thresholds(**spec.get("thresholds", {})),
    )
    return workloads, nodes, detect_all(ctx)


def _load_cases() -> list[Case]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for spec in data["cases"]:
            where = f"{path.name}: case {spec.get('name')!r}"
            unknown = set(spec) - CASE_KEYS
            assert not unknown, f"{where} has unknown keys {sorted(unknown)}"
            # pytest escapes non-ASCII in test ids, which makes `-k` selection and CI logs unreadable.
            assert str(spec["name"]).isascii(), f"{where}: keep case names ASCII (use -> and x)"
            compare = spec.get("compare", [])
            assert compare == "all" or set(compare) <= TYPES, f"{where}: compare names unknown types"
            for entry in spec.get("expect", []):
                bad = set(entry) - EXPECT_KEYS
                assert not bad, f"{path.name}: case {spec['name']!r} expect has unknown keys {sorted(bad)}"
            cases.append(Case(path.stem, str(spec["name"]), spec))
    return cases


CASES = _load_cases()


def _close(got: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _close(got[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list | tuple) and len(got) == len(want) and all(map(_close, got, want))
    # bool is an int: compare it exactly so `true` never matches 1.0.
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    return bool(got == want)


def _money_ok(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=MONEY_REL_TOL, abs_tol=0.01)


def _describe(f: Finding, *, with_evidence: bool) -> str:
    line = (
        f"  {f.type.value} / {f.workload}: waste ${f.monthly_waste_usd:,.2f}, at risk ${f.monthly_at_risk_usd:,.2f}, "
        f"{f.severity.value}/{f.confidence.value} — {f.title}"
    )
    return f"{line}\n      evidence: {f.evidence}" if with_evidence else line


def _invariant_problems(workloads: list[Workload], nodes: list[GpuNode], findings: list[Finding]) -> list[str]:
    """Checked on every case: settled waste never exceeds what the workload (or node) costs."""
    budgets = {w.name: w.monthly_cost_usd for w in workloads} | {
        n.name: n.hourly_cost_usd * HOURS_PER_MONTH for n in nodes
    }
    waste: dict[str, float] = defaultdict(float)
    for f in findings:
        waste[f.workload] += f.monthly_waste_usd
    problems = [
        f"waste on {name} totals ${total:,.2f}, above its monthly cost ${budgets[name]:,.2f}"
        for name, total in waste.items()
        if name in budgets and total > budgets[name] + 0.01
    ]
    problems += [
        f"observability_gap on {f.workload} claims dollars"
        for f in findings
        if f.type.value == "observability_gap" and (f.monthly_waste_usd or f.monthly_at_risk_usd)
    ]
    return problems


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=str(case.spec["xfail"]))] if case.spec.get("xfail") else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_case(case: Case) -> None:
    spec = case.spec
    workloads, nodes, findings = run_case(spec)
    compare = spec.get("compare", "all" if case.file_type == ENGINE_FILE else [case.file_type])
    compared = [f for f in findings if compare == "all" or f.type.value in compare]
    expected = spec.get("expect") or []

    got = {(f.type.value, f.workload) for f in compared}
    want = {(str(e.get("type", case.file_type)), str(e["workload"])) for e in expected}
    problems = []
    if got != want:
        problems.append(f"expected {sorted(want) or 'no findings'}, found {sorted(got) or 'none'}")
    for e in expected:
        key = (str(e.get("type", case.file_type)), str(e["workload"]))
        match = next((f for f in compared if (f.type.value, f.workload) == key), None)
        if match is None:
            continue
        for money in ("monthly_waste_usd", "monthly_at_risk_usd"):
            if money in e and not _money_ok(getattr(match, money), float(e[money])):
                problems.append(f"{key}: {money} {getattr(match, money):,.2f}, expected {float(e[money]):,.2f}")
        if "suppressed" in e and match.suppressed is not bool(e["suppressed"]):
            problems.append(f"{key}: suppressed {match.suppressed}, expected {e['suppressed']}")
        for label in ("severity", "confidence"):
            if label in e and getattr(match, label).value != e[label]:
                problems.append(f"{key}: {label} {getattr(match, label).value}, expected {e[label]}")
        for field_name, value in (e.get("evidence") or {}).items():
            if not _close(match.evidence.get(field_name), value):
                problems.append(f"{key}: evidence {field_name}={match.evidence.get(field_name)!r}, expected {value!r}")
    problems += _invariant_problems(workloads, nodes, findings)

    if problems:
        shown = "\n".join(_describe(f, with_evidence=f in compared) for f in findings) or "  (none)"
        compared_label = "all types" if compare == "all" else ", ".join(compare)
        pytest.fail(
            f"{case.id}\n"
            + "\n".join(f"- {p}" for p in problems)
            + f"\ncompared: {compared_label}\nall findings:\n{shown}",
            pytrace=False,
        )


def test_every_registered_type_has_a_case_file_covering_each_kind() -> None:
    registered = {d.type.value for d in detectors()}
    files = {c.file_type for c in CASES} - {ENGINE_FILE}
    assert files == registered, (
        f"case files without a detector: {files - registered}; detectors without cases: {registered - files}"
    )
    for type_ in sorted(registered):
        names = [c.name.lower() for c in CASES if c.file_type == type_]
        missing = [kind for kind in REQUIRED_KINDS if not any(n.startswith(kind) for n in names)]
        assert not missing, f"cases/{type_}.yaml has no {', '.join(missing)} case"


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_base_prices_are_the_bundled_catalog_prices() -> None:
    """The dollars written in the case files assume these prices; fail loudly if the catalog moves under them."""
    prices = _catalogs().prices
    base = _base()
    priced = {"workload": base["workload"]} | {
        f"profile {name}": _merge(base["workload"], spec)
        for name, spec in base["profiles"].items()
        if "gpu_hour_usd" in spec
    }
    for label, w in priced.items():
        quoted = prices.cheapest_gpu_hour(
            cloud=w["cloud"], region=w["region"], gpu_model=w["gpu_model"], capacity_type=w["capacity_type"]
        )
        assert quoted is not None and math.isclose(quoted[0], w["gpu_hour_usd"]), f"{label}: {quoted}"
    node = base["node_defaults"]
    row = prices.lookup(cloud=node["cloud"], region=node["region"], instance_type=node["instance_type"])
    assert row is not None and math.isclose(row[0].hourly(node["capacity_type"])[0], node["hourly_cost_usd"])
