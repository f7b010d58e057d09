"""queries/previous_findings: what the next night may mark resolved — never findings of a cluster it could not read."""

from datetime import date
from pathlib import Path

import pandas as pd

from inferops_pipeline.warehouse import open_warehouse

NIGHT1, NIGHT2 = date(2026, 11, 29), date(2026, 11, 30)


def _finding(cluster: str, finding_id: str, status: str = "new") -> dict[str, object]:
    return {
        "finding_id": finding_id,
        "type": "idle_gpu",
        "severity": "high",
        "confidence": "high",
        "cluster": cluster,
        "namespace": "llm",
        "workload_kind": "Deployment",
        "workload": f"chat-{finding_id}",
        "model": "m",
        "gpu_model": "H100-80GB",
        "owner": "",
        "title": "t",
        "explanation": "e",
        "evidence": "{}",
        "monthly_waste_usd": 100.0,
        "monthly_at_risk_usd": 0.0,
        "first_seen": NIGHT1,
        "status": status,
    }


def _coverage(cluster: str, status: str) -> dict[str, object]:
    return {
        "cluster": cluster,
        "source": "kubernetes",
        "part": "pods",
        "status": status,
        "items": 0,
        "detail": "",
        "duration_s": 0.0,
    }


def test_unreadable_cluster_resolves_nothing(tmp_path: Path) -> None:
    wh = open_warehouse(tmp_path / "w.duckdb")
    night1 = [_finding("up", "a"), _finding("down", "b"), _finding("up", "c", status="resolved")]
    wh.replace_date("findings", NIGHT1, pd.DataFrame(night1))
    wh.replace_date(
        "coverage",
        NIGHT2,
        pd.DataFrame([_coverage("up", "ok"), _coverage("down", "error")]),
        source="kubernetes",
        parts=["pods"],
    )
    previous = wh.query("queries/previous_findings", assessment_date=NIGHT2)
    # "c" was already resolved; "b" belongs to a cluster night 2 could not read, so it cannot be resolved by absence.
    assert previous["finding_id"].tolist() == ["a"]


def test_denied_part_still_resolves(tmp_path: Path) -> None:
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.replace_date("findings", NIGHT1, pd.DataFrame([_finding("partly", "a")]))
    wh.replace_date(
        "coverage", NIGHT2, pd.DataFrame([_coverage("partly", "denied")]), source="kubernetes", parts=["pods"]
    )
    assert wh.query("queries/previous_findings", assessment_date=NIGHT2)["finding_id"].tolist() == ["a"]


def test_nested_transactions_commit_or_roll_back_together(tmp_path: Path) -> None:
    wh = open_warehouse(tmp_path / "w.duckdb")
    wh.replace_date("findings", NIGHT1, pd.DataFrame([_finding("up", "a")]))
    try:
        with wh.transaction():
            wh.replace_date("findings", NIGHT1, pd.DataFrame([_finding("up", "z")]))
            raise RuntimeError("the asset fails after its first table")
    except RuntimeError:
        pass
    # The inner replace joined the outer transaction, so the failure left night 1 exactly as it was.
    assert wh.frame_on("findings", NIGHT1)["finding_id"].tolist() == ["a"]


def test_a_night_without_a_cluster_does_not_hide_its_open_findings(tmp_path: Path) -> None:
    wh = open_warehouse(tmp_path / "w.duckdb")
    night3 = date(2026, 12, 1)
    wh.replace_date("findings", NIGHT1, pd.DataFrame([_finding("up", "a"), _finding("flaky", "b")]))
    # Night 2 could not read "flaky": it has rows for "up" only.
    wh.replace_date("findings", NIGHT2, pd.DataFrame([_finding("up", "a")]))
    previous = wh.query("queries/previous_findings", assessment_date=night3)
    # Night 3 reads both again: "b" is still open from night 1 and can now be resolved (or continue).
    assert sorted(previous["finding_id"]) == ["a", "b"]
