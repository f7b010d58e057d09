"""load/recommendations: re-running or moving to the next night never loses or rewrites a decision."""

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from inferops_pipeline.warehouse import Warehouse, open_warehouse

NIGHT1, NIGHT2 = date(2026, 11, 29), date(2026, 11, 30)


def _rec(rid: str, replicas: int, was: int = 4, status: str = "pending") -> dict[str, object]:
    return {
        "recommendation_id": rid,
        "finding_id": rid.split("-")[0],
        "action": "scale_replicas",
        "cluster": "c",
        "namespace": "llm",
        "target_kind": "Deployment",
        "target_name": "chat",
        "patch": json.dumps({"spec": {"replicas": replicas}}, sort_keys=True),
        "inverse_patch": json.dumps({"spec": {"replicas": was}}, sort_keys=True),
        "rationale": "r",
        "expected_monthly_savings_usd": 100.0,
        "expected_risk_change": "",
        "status": status,
        "target_resource_version": "1",
        "target_spec_hash": "h",
        "scale_to_zero": False,
        "expected_risk_removed_usd": 0.0,
    }


def _set(wh: Warehouse, day: date, rid: str, status: str) -> None:
    wh.run("load/recommendation_status", status=status, recommendation_id=rid, assessment_date=day)


def _rows(wh: Warehouse, day: date) -> dict[str, tuple[str, dict[str, object], dict[str, object]]]:
    frame = wh.frame_on("recommendations", day)
    return {
        r["recommendation_id"]: (r["status"], json.loads(r["patch"]), json.loads(r["inverse_patch"]))
        for r in frame.to_dict(orient="records")
    }


@pytest.fixture()
def wh(tmp_path: Path) -> Warehouse:
    return open_warehouse(tmp_path / "w.duckdb")


def test_rerun_keeps_the_decided_row_whole_even_when_the_finding_is_gone(wh: Warehouse) -> None:
    wh.replace_date("recommendations", NIGHT1, pd.DataFrame([_rec("a-scale", 2), _rec("b-scale", 1)]))
    _set(wh, NIGHT1, "a-scale", "applied")
    # The re-run plans "a" differently (the object already changed) and no longer raises "b".
    wh.replace_date("recommendations", NIGHT1, pd.DataFrame([_rec("a-scale", 1, was=2)]))
    assert _rows(wh, NIGHT1) == {"a-scale": ("applied", {"spec": {"replicas": 2}}, {"spec": {"replicas": 4}})}


def test_next_night_carries_an_applied_change_with_its_original_inverse(wh: Warehouse) -> None:
    wh.replace_date("recommendations", NIGHT1, pd.DataFrame([_rec("a-scale", 2)]))
    _set(wh, NIGHT1, "a-scale", "applied")
    wh.replace_date("recommendations", NIGHT2, pd.DataFrame([_rec("a-scale", 1, was=2)]))
    assert _rows(wh, NIGHT2)["a-scale"] == ("applied", {"spec": {"replicas": 2}}, {"spec": {"replicas": 4}})


def test_a_rejection_stands_while_the_proposal_is_unchanged(wh: Warehouse) -> None:
    wh.replace_date("recommendations", NIGHT1, pd.DataFrame([_rec("a-scale", 2), _rec("b-scale", 2)]))
    _set(wh, NIGHT1, "a-scale", "rejected")
    _set(wh, NIGHT1, "b-scale", "rejected")
    # "a" is proposed again unchanged; "b" comes back with a different patch: that is a new question.
    wh.replace_date("recommendations", NIGHT2, pd.DataFrame([_rec("a-scale", 2), _rec("b-scale", 3)]))
    rows = _rows(wh, NIGHT2)
    assert rows["a-scale"][0] == "rejected"
    assert rows["b-scale"] == ("pending", {"spec": {"replicas": 3}}, {"spec": {"replicas": 4}})


def test_failed_and_rolled_back_come_back_as_pending(wh: Warehouse) -> None:
    wh.replace_date("recommendations", NIGHT1, pd.DataFrame([_rec("a-scale", 2), _rec("b-scale", 2)]))
    _set(wh, NIGHT1, "a-scale", "failed")
    _set(wh, NIGHT1, "b-scale", "rolled_back")
    wh.replace_date("recommendations", NIGHT2, pd.DataFrame([_rec("a-scale", 2), _rec("b-scale", 2)]))
    assert {k: v[0] for k, v in _rows(wh, NIGHT2).items()} == {"a-scale": "pending", "b-scale": "pending"}
