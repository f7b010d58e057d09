"""Every finding's dollars trace to a price-catalog row or override with its basis; every tier decision to a margin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from inferops_pipeline.defs.inprocess import materialize_date
from inferops_pipeline.defs.resources import InferopsResource

PARTITION = "2026-11-30"
RECORDED = Path(__file__).resolve().parents[1] / "data" / "pricing"
PRICED_BASES = {"exact", "other_region", "gpu_model_median", "override"}


def _assess(config: Path, warehouse: Path, **resource: str) -> None:
    materialize_date(
        PARTITION,
        resources={"inferops": InferopsResource(config_path=str(config), warehouse_path=str(warehouse), **resource)},
    )


def _rows(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def _findings(warehouse: Path) -> list[dict[str, Any]]:
    rows = _rows(
        warehouse,
        "select type, workload, monthly_waste_usd, monthly_at_risk_usd, evidence from findings "
        f"where assessment_date = date '{PARTITION}'",
    )
    for row in rows:
        row["evidence"] = json.loads(row["evidence"])
    return rows


def _catalog_keys(warehouse: Path) -> set[tuple[str, str, str]]:
    rows = _rows(
        warehouse, f"select cloud, region, instance_type from price_catalog where assessment_date = date '{PARTITION}'"
    )
    return {(r["cloud"].lower(), r["region"].lower(), r["instance_type"].lower()) for r in rows}


def _assert_traceable(evidence: dict[str, Any], catalog: set[tuple[str, str, str]], where: str) -> None:
    basis, key = evidence.get("price_basis"), evidence.get("price_key", "")
    assert basis in PRICED_BASES, f"{where}: price basis {basis!r}"
    assert key, f"{where}: no price key"
    assert evidence.get("price_detail"), f"{where}: no price detail"
    if basis in ("exact", "other_region"):
        cloud, region, instance_type, capacity = key.split("/")
        assert (cloud.lower(), region.lower(), instance_type.lower()) in catalog, f"{where}: {key} not in price_catalog"
        assert capacity in {"on-demand", "spot", "reserved", "commit-1y", "commit-3y"}
    elif basis == "override":
        assert ":" in key, f"{where}: override key {key!r} is not file:line"


@pytest.fixture(scope="module")
def demo_warehouse(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("trace") / "wh.duckdb"
    _assess(demo_dir / "inferops.yaml", warehouse)
    return warehouse


def test_every_dollar_traces_to_a_catalog_row_with_its_basis(demo_warehouse: Path) -> None:
    findings = _findings(demo_warehouse)
    catalog = _catalog_keys(demo_warehouse)
    priced = [f for f in findings if f["monthly_waste_usd"] + f["monthly_at_risk_usd"] > 0]
    assert len(priced) >= 20
    for f in priced:
        _assert_traceable(f["evidence"], catalog, f"{f['type']} {f['workload']}")


def test_every_tier_decision_carries_its_fit_margin(demo_warehouse: Path) -> None:
    findings = _findings(demo_warehouse)
    catalog = _catalog_keys(demo_warehouse)
    tiers = [f for f in findings if f["type"] == "tier_misplacement"]
    assert tiers
    for f in tiers:
        evidence = f["evidence"]
        margin, threshold = evidence["fit_margin"], evidence["threshold_tier_fit_margin"]
        assert isinstance(margin, float) and margin >= threshold, f["workload"]
        proposed = evidence["proposed"]
        assert proposed["fit_margin"] == margin and "fits" in proposed["fit"]
        # the cheaper tier's price traces too
        _assert_traceable(proposed, catalog, f"tier_misplacement {f['workload']} proposal")
    for f in (f for f in findings if f["type"] == "kv_cache_oversized"):
        assert isinstance(f["evidence"]["fit_margin"], float) and f["evidence"]["fit_margin"] > 0


def test_overrides_and_refreshed_prices_are_reported_as_such(demo_dir: Path, tmp_path: Path) -> None:
    # One g6.xlarge (L4) price negotiated; list prices refreshed from recorded AWS/Azure payloads.
    overrides = tmp_path / "prices.csv"
    overrides.write_text("cloud,region,instance_type,price_usd_hr,note\naws,us-east-1,g6.xlarge,0.5,EDP 2026\n")
    config = yaml.safe_load((demo_dir / "inferops.yaml").read_text())
    config["pricing"] = {
        "overrides": str(overrides),
        "refresh": {
            "enabled": True,
            "clouds": ["aws", "azure"],
            "regions": {"aws": ["eu-central-1"], "azure": ["eastus"]},
        },
    }
    for cluster in config["clusters"]:  # keep snapshot paths valid from the new config's directory
        for section in ("kubernetes", "prometheus"):
            snapshot = cluster[section].get("snapshot")
            if snapshot:
                cluster[section]["snapshot"] = str((demo_dir / snapshot).resolve())
    path = tmp_path / "inferops.yaml"
    path.write_text(yaml.safe_dump(config))
    warehouse = tmp_path / "wh.duckdb"
    _assess(path, warehouse, price_api_recordings=str(RECORDED))

    catalog = _catalog_keys(warehouse)
    overridden = [f for f in _findings(warehouse) if f["evidence"].get("price_basis") == "override"]
    assert overridden, "no finding on the overridden g6.xlarge nodes"
    for f in overridden:
        assert f["evidence"]["price_key"] == f"{overrides}:2"
        assert "EDP 2026" in f["evidence"]["price_detail"]
        assert f["evidence"]["gpu_hour_usd"] == pytest.approx(0.5)
        _assert_traceable(f["evidence"], catalog, f["workload"])

    # The refreshed catalog is in the warehouse with its date, source and origin; the rest stays bundled.
    rows = _rows(
        warehouse,
        "select cloud, region, instance_type, ondemand_usd_hr, source, snapshot_date, origin from price_catalog "
        f"where assessment_date = date '{PARTITION}'",
    )
    by_key = {(r["cloud"], r["region"], r["instance_type"]): r for r in rows}
    g6e = by_key[("aws", "eu-central-1", "g6e.xlarge")]
    assert (g6e["origin"], g6e["ondemand_usd_hr"]) == ("refresh:aws", 2.40)
    assert g6e["snapshot_date"] == datetime.now(UTC).date() and "AWS Price List" in g6e["source"]
    assert by_key[("azure", "eastus", "Standard_NC24ads_A100_v4")]["origin"] == "refresh:azure"
    assert by_key[("aws", "us-east-1", "g6.xlarge")]["origin"] == "override"
    assert by_key[("aws", "us-east-1", "p5.48xlarge")]["origin"] == "bundled"
    # the staging-eu node on g6e.xlarge is now priced from the refreshed row
    staging = [f for f in _findings(warehouse) if f["workload"] == "staging-eu-l40s-009"]
    assert staging and staging[0]["evidence"]["gpu_hour_usd"] == pytest.approx(2.40)
