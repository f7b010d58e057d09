"""remediation.guards: each guard on its own, then check() as the asset calls it; plus the settings they read."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from inferops_pipeline.domain import Recommendation
from inferops_pipeline.remediation.guards import (
    Decision,
    approver_allowed,
    check,
    check_scale,
    check_target,
    is_real_pending,
    namespace_allowed,
    within_budget,
)
from inferops_pipeline.remediation.plan import spec_hash
from inferops_pipeline.settings import RemediationConfig, settings_from_dict

CONFIG = RemediationConfig(approvers=["alice@example.com"], namespaces=["llm-serving"], max_changes_per_day=2)
TARGET: dict[str, Any] = {"metadata": {"resourceVersion": "10", "labels": {}}, "spec": {"replicas": 4}, "status": {}}


def rec(**overrides: Any) -> Recommendation:
    patch = overrides.pop("patch", {"spec": {"replicas": 2}})
    base: dict[str, Any] = dict(
        recommendation_id="f1-scale_replicas", finding_id="f1", assessment_date=date(2026, 12, 1),
        action="scale_replicas", cluster="prod", namespace="llm-serving", target_kind="Deployment", target_name="qwen",
        patch=patch, inverse_patch={"spec": {"replicas": 4}}, rationale="r", expected_monthly_savings_usd=1.0,
        expected_risk_change="less headroom", target_resource_version="10", target_spec_hash=spec_hash(TARGET, patch),
    )  # fmt: skip
    return Recommendation(**(base | overrides))


def approve(*, approver: str = "alice@example.com", dry_run: bool = False) -> Decision:
    return Decision(decision="APPROVE", approver=approver, reason="ticket-1", dry_run=dry_run)


def run(r: Recommendation | None, d: Decision, *, applied_today: int = 0, key: str = "f1-scale_replicas") -> Any:
    return check(r, d, config=CONFIG, applied_today=applied_today, partition_key=key)


def test_approver_must_be_in_the_allow_list() -> None:
    assert approver_allowed("alice@example.com", CONFIG) is None
    assert approver_allowed("mallory@example.com", CONFIG)
    assert approver_allowed("", RemediationConfig())  # empty allow-list: nobody
    result = run(rec(), approve(approver="mallory@example.com"))
    assert (result.allowed, result.status) == (False, "refused") and "mallory" in result.reasons[0]


def test_partition_key_must_be_a_real_pending_recommendation() -> None:
    assert is_real_pending(rec(), "f1-scale_replicas") is None
    assert is_real_pending(None, "made-up")  # a partition someone added in the UI
    assert is_real_pending(rec(), "other-key")
    for closed in ("rejected", "superseded", "rolled_back"):
        assert is_real_pending(rec(status=closed), "f1-scale_replicas"), closed
    for open_ in ("pending", "failed", "applied"):  # failed = retry, applied = re-approval confirmed as a no-op
        assert is_real_pending(rec(status=open_), "f1-scale_replicas") is None, open_
    assert run(None, approve(), key="made-up").status == "refused"


def test_namespace_must_be_allow_listed() -> None:
    assert namespace_allowed(rec(), CONFIG) is None
    assert namespace_allowed(rec(namespace="kube-system"), CONFIG)
    result = run(rec(namespace="kube-system"), approve())
    assert result.status == "refused" and "kube-system" in " ".join(result.reasons)


def test_at_most_n_changes_per_day() -> None:
    assert within_budget(1, CONFIG) is None
    assert within_budget(2, CONFIG)
    assert run(rec(), approve(), applied_today=2).status == "refused"
    assert run(rec(), approve(dry_run=True), applied_today=2).status == "ok"  # a dry run changes nothing


def test_never_below_one_replica_unless_explicit_scale_to_zero() -> None:
    assert check_scale(rec()).allowed
    zero = rec(patch={"spec": {"replicas": 0}})
    assert not check_scale(zero).allowed
    assert check_scale(replace(zero, scale_to_zero=True)).allowed
    assert not check_scale(replace(zero, scale_to_zero=True, action="set_resources")).allowed
    assert not check_scale(rec(patch={"spec": {"replicas": -1}}, scale_to_zero=True)).allowed
    assert not check_scale(rec(patch={"spec": {"replicas": "2"}})).allowed
    assert check_scale(rec(patch={"spec": {"template": {}}}, action="set_resources")).allowed
    assert run(zero, approve()).status == "refused"


def test_target_unchanged_since_the_recommendation() -> None:
    assert check_target(rec(), TARGET).allowed
    status_write = copy.deepcopy(TARGET)
    status_write["metadata"]["resourceVersion"] = "11"  # status/label writes move resourceVersion only
    status_write["status"]["readyReplicas"] = 3
    result = check_target(rec(), status_write)
    assert result.allowed and result.reasons == ("resourceVersion 10 → 11",)
    scaled = copy.deepcopy(status_write)
    scaled["spec"]["replicas"] = 6
    result = check_target(rec(), scaled)
    assert (result.allowed, result.status) == (False, "superseded") and len(result.reasons) == 2
    assert check_target(rec(target_spec_hash=""), TARGET).status == "superseded"


def test_reject_is_recorded_and_never_allowed_to_write() -> None:
    reject = Decision(decision="REJECT", approver="alice@example.com", reason="not now", dry_run=False)
    result = run(rec(), reject)
    assert (result.allowed, result.status) == (False, "rejected")
    # Still only an allow-listed approver on a real recommendation; an applied one is undone by rollback instead.
    assert run(rec(), replace(reject, approver="bob")).status == "refused"
    assert run(rec(status="applied"), reject).status == "refused"
    # A REJECT outside the namespace allow-list or budget is still just recorded.
    assert run(rec(namespace="kube-system"), reject, applied_today=99).status == "rejected"


def test_unknown_decision_is_refused() -> None:
    result = run(rec(), Decision(decision="MAYBE", approver="alice@example.com", reason="", dry_run=True))  # type: ignore[arg-type]
    assert result.status == "refused"


def test_ok_collects_nothing_and_refusal_lists_every_reason() -> None:
    assert run(rec(), approve()) == run(rec(), approve(dry_run=True))
    assert run(rec(), approve()).allowed
    many = run(rec(namespace="x", patch={"spec": {"replicas": 0}}), approve(), applied_today=5)
    assert many.status == "refused" and len(many.reasons) == 3


@pytest.mark.parametrize("key", ["max_changes_per_day", "max_changes_per_run"])
def test_settings_accept_the_old_budget_name(key: str) -> None:
    raw = {
        "clusters": [
            {
                "name": "prod",
                "kubernetes": {"context": "scanner"},
                "prometheus": {"url": "http://prom"},
                "remediator": {"context": "remediator", "timeout_s": 10},
            }
        ],
        "remediation": {"approvers": ["a"], "namespaces": ["n"], key: 7, "wait_for_rollout_s": 120},
    }
    settings = settings_from_dict(raw, source="test")
    assert settings.remediation.max_changes_per_day == 7 and settings.remediation.wait_for_rollout_s == 120
    remediator = settings.clusters[0].remediator
    assert remediator is not None and remediator.context == "remediator"
    assert (
        RemediationConfig().wait_for_rollout_s == 0
        and settings_from_dict({"clusters": raw["clusters"][:1]}, source="t").clusters[0].kubernetes.context
        == "scanner"
    )
