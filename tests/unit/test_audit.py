"""The audit log's hash chain: appends link, tampering with any one row is named, export round-trips."""

import json
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from inferops_pipeline.audit import GENESIS, AuditEvent, append, export, verify
from inferops_pipeline.cli import app
from inferops_pipeline.warehouse import open_warehouse


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A warehouse with five chained events, and a settings file pointing at it."""
    warehouse = tmp_path / "wh.duckdb"
    wh = open_warehouse(warehouse)
    append(
        wh,
        [AuditEvent("inferops", "finding.new", f"f{i}", {"waste": i * 10.5, "date": "2026-11-30"}) for i in range(3)],
        run_id="night-1",
    )
    append(
        wh,
        [
            AuditEvent("alice@example.com", "decision.approved", "f1-scale_replicas", {"reason": "CHG-1"}),
            AuditEvent("alice@example.com", "remediation.applied", "f1-scale_replicas", {"diff": {"before": 3}}),
        ],
        run_id="approval-1",
    )
    wh.con.close()
    path = tmp_path / "inferops.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "warehouse": str(warehouse),
                "clusters": [{"name": "c", "kubernetes": {"snapshot": str(tmp_path)}, "prometheus": {"snapshot": "m"}}],
            }
        )
    )
    return path


def tamper(config: Path, sql: str) -> None:
    con = duckdb.connect(str(config.parent / "wh.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_intact_chain_verifies(config: Path) -> None:
    wh = open_warehouse(config.parent / "wh.duckdb")
    try:
        assert verify(wh) == (5, None, "ok")
        first = json.loads(next(export(wh)))
    finally:
        wh.con.close()
    assert first["prev_hash"] == GENESIS and first["seq"] == 1
    result = CliRunner().invoke(app, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 0 and "5 rows" in result.output


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        # Someone edits history: the approver of the decision.
        ("update audit_log set actor = 'mallory@example.com' where seq = 4", "hash does not match"),
        ('update audit_log set payload = \'{"reason": "CHG-2"}\' where seq = 4', "hash does not match"),
        # Or deletes a row: the next row's prev_hash no longer links.
        ("delete from audit_log where seq = 4", "prev_hash"),
    ],
)
def test_tampered_row_is_named_and_exit_is_nonzero(config: Path, sql: str, reason: str) -> None:
    tamper(config, sql)
    result = CliRunner().invoke(app, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 1
    named = 5 if sql.startswith("delete") else 4
    assert f"seq {named}" in result.output and reason in result.output


def test_rehashing_one_row_still_breaks_the_next(config: Path) -> None:
    # A forger who recomputes row 2's hash cannot fix row 3's prev_hash without rewriting the rest.
    tamper(config, "update audit_log set actor = 'x', hash = repeat('a', 64) where seq = 2")
    wh = open_warehouse(config.parent / "wh.duckdb")
    try:
        checked, broken, _ = verify(wh)
    finally:
        wh.con.close()
    assert (checked, broken) == (5, 2)


def test_export_writes_json_lines_in_chain_order(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(app, ["audit", "export", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(lines, lines[1:], strict=False))
    assert lines[3]["event"] == "decision.approved" and lines[3]["payload"] == {"reason": "CHG-1"}
    assert lines[3]["run_id"] == "approval-1"
    since = CliRunner().invoke(app, ["audit", "export", "--config", str(config), "--since-seq", "4"])
    assert [json.loads(line)["seq"] for line in since.output.splitlines()] == [4, 5]
