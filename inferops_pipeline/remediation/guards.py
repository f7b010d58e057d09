"""Approval guards (pure): who may decide, on what, how much per day, and whether the target is still as planned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from inferops_pipeline.domain import Recommendation
from inferops_pipeline.remediation.plan import spec_hash
from inferops_pipeline.settings import RemediationConfig

DecisionKind = Literal["APPROVE", "REJECT"]
# A decision may be taken on these: pending; failed (a retry after a 409/500); applied (re-approval is a no-op
# that apply confirms without writing). rejected / superseded / rolled_back are closed.
DECIDABLE = frozenset({"pending", "approved", "failed", "applied"})


@dataclass(frozen=True, slots=True)
class Decision:
    decision: DecisionKind
    approver: str
    reason: str
    dry_run: bool


@dataclass(frozen=True, slots=True)
class GuardResult:
    """allowed=True only for status ok; `rejected` is a valid REJECT (recorded, the cluster is never touched)."""

    allowed: bool
    status: str  # ok | rejected | refused | superseded
    reasons: tuple[str, ...] = ()


def _result(problems: list[str], *, fail_status: str = "refused") -> GuardResult:
    return GuardResult(False, fail_status, tuple(problems)) if problems else GuardResult(True, "ok", ())


def approver_allowed(approver: str, config: RemediationConfig) -> str | None:
    """None when allowed, else why. An empty allow-list allows nobody (fail closed)."""
    if approver.strip() and approver.strip() in config.approvers:
        return None
    return f"approver {approver!r} is not in remediation.approvers"


def is_real_pending(rec: Recommendation | None, partition_key: str) -> str | None:
    """The partition key must name a stored recommendation that can still be decided (the UI lets anyone add keys)."""
    if rec is None:
        return f"no recommendation {partition_key!r} in the warehouse"
    if rec.recommendation_id != partition_key:
        return f"partition {partition_key!r} does not match recommendation {rec.recommendation_id!r}"
    if rec.status not in DECIDABLE:
        return f"recommendation {partition_key!r} is {rec.status}, not pending"
    return None


def namespace_allowed(rec: Recommendation, config: RemediationConfig) -> str | None:
    if rec.namespace in config.namespaces:
        return None
    return f"namespace {rec.namespace!r} is not in remediation.namespaces"


def within_budget(applied_today: int, config: RemediationConfig) -> str | None:
    if applied_today < config.max_changes_per_day:
        return None
    return f"{applied_today} change(s) applied today: remediation.max_changes_per_day is {config.max_changes_per_day}"


def _replicas_in(patch: Mapping[str, Any]) -> Any:
    spec = patch.get("spec")
    return spec.get("replicas") if isinstance(spec, Mapping) else None


def check_scale(rec: Recommendation) -> GuardResult:
    """Never below 1 replica, unless the recommendation is an explicit scale-to-zero of an idle workload."""
    replicas = _replicas_in(rec.patch)
    if replicas is None:
        return GuardResult(True, "ok", ())
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        return GuardResult(False, "refused", (f"spec.replicas {replicas!r} is not a replica count",))
    if replicas < 1 and not (rec.scale_to_zero and rec.action == "scale_replicas"):
        return GuardResult(False, "refused", (f"would scale {rec.target_name} to {replicas} replicas",))
    return GuardResult(True, "ok", ())


def check_target(rec: Recommendation, current_object: Mapping[str, Any]) -> GuardResult:
    """superseded when the spec values the patch touches changed since the plan. resourceVersion moves on any
    write (status, an unrelated label), so it is reported but only the spec hash decides."""
    current_hash = spec_hash(current_object, rec.patch)
    version = str((current_object.get("metadata") or {}).get("resourceVersion") or "")
    notes = []
    if rec.target_resource_version and version != rec.target_resource_version:
        notes.append(f"resourceVersion {rec.target_resource_version} → {version}")
    if not rec.target_spec_hash:
        return GuardResult(False, "superseded", (*notes, "no spec hash was recorded at plan time; re-plan"))
    if current_hash != rec.target_spec_hash:
        return GuardResult(False, "superseded", (*notes, "the fields the patch touches changed since the plan"))
    return GuardResult(True, "ok", tuple(notes))


def check(
    rec: Recommendation | None,
    decision: Decision,
    *,
    config: RemediationConfig,
    applied_today: int,
    partition_key: str,
) -> GuardResult:
    """Every guard that needs no cluster: refused (with every reason), rejected (a valid REJECT) or ok."""
    if decision.decision not in ("APPROVE", "REJECT"):
        return GuardResult(False, "refused", (f"decision {decision.decision!r} is neither APPROVE nor REJECT",))
    problems = [p for p in (is_real_pending(rec, partition_key), approver_allowed(decision.approver, config)) if p]
    if problems or rec is None:
        return GuardResult(False, "refused", tuple(problems))
    if decision.decision == "REJECT":
        if rec.status == "applied":
            return GuardResult(False, "refused", ("an applied recommendation is undone by the rollback job",))
        # A valid REJECT is recorded and never reaches the cluster: allowed stays False.
        return GuardResult(False, "rejected", (f"rejected by {decision.approver}",))
    problems.extend(p for p in (namespace_allowed(rec, config),) if p)
    if not decision.dry_run:
        # A dry run changes nothing, so it does not spend the day's budget.
        problems.extend(p for p in (within_budget(applied_today, config),) if p)
    problems.extend(check_scale(rec).reasons)
    return _result(problems)
