"""Runs every registered detector, settles dollars so nothing is counted twice, and carries history (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date

from inferops_pipeline.detectors.context import Candidate, DetectorContext
from inferops_pipeline.detectors.registry import detectors
from inferops_pipeline.domain import Confidence, Finding, FindingStatus, FindingType, Severity, finding_id


def _severity(candidate: Candidate) -> Severity:
    if candidate.severity is not None:
        return candidate.severity
    dollars = max(candidate.monthly_waste_usd, candidate.monthly_at_risk_usd)
    by_money = (
        Severity.CRITICAL
        if dollars >= 25_000
        else Severity.HIGH
        if dollars >= 5_000
        else Severity.MEDIUM
        if dollars >= 1_000
        else Severity.LOW
    )
    return max(by_money, candidate.floor_severity, key=lambda s: s.rank)


def settle(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Cap each budget's waste at its spend and count each budget's at-risk spend once, in precedence order."""
    waste_left: dict[str, float] = {}
    risk_claimed: set[str] = set()
    settled = []
    for c in candidates:
        if not c.budget_key:
            settled.append(c)
            continue
        left = waste_left.setdefault(c.budget_key, c.budget_usd)
        waste = min(c.monthly_waste_usd, left)
        waste_left[c.budget_key] = left - waste
        risk = c.monthly_at_risk_usd
        if risk > 0:
            risk = 0.0 if c.budget_key in risk_claimed else risk
            risk_claimed.add(c.budget_key)
        claimed = c.monthly_waste_usd + c.monthly_at_risk_usd
        if claimed > 0 and waste + risk == 0:
            # An earlier (more fundamental) finding already explains every dollar of this one.
            continue
        evidence = c.evidence
        if waste < c.monthly_waste_usd or risk < c.monthly_at_risk_usd:
            evidence = {**c.evidence, "dollars_already_counted_by_earlier_finding": True}
        settled.append(
            replace(c, monthly_waste_usd=round(waste, 2), monthly_at_risk_usd=round(risk, 2), evidence=evidence)
        )
    return settled


def suppress(candidate: Candidate) -> tuple[Candidate, str]:
    """An exempted finding keeps its row but not its dollars: they move into evidence, the money columns go to 0.

    Runs after settle, so an exempted finding still holds the GPU-hours it explains: a later detector does not
    re-claim them, and no total (CLI, views, report) needs to know about suppression to stay right. Severity drops
    to info so `--fail-on` and paging ignore it; the severity it would have had is kept in evidence.
    """
    matched = sorted({candidate.type.value, "all"} & set(candidate.ignore))
    if not matched:
        return candidate, ""
    by = f"annotation inferops.io/ignore={','.join(candidate.ignore)}"
    evidence = {
        **candidate.evidence,
        "suppressed_monthly_waste_usd": candidate.monthly_waste_usd,
        "suppressed_monthly_at_risk_usd": candidate.monthly_at_risk_usd,
        "suppressed_severity": _severity(candidate).value,
    }
    return (
        replace(candidate, evidence=evidence, monthly_waste_usd=0.0, monthly_at_risk_usd=0.0, severity=Severity.INFO),
        by,
    )


def detect_all(ctx: DetectorContext) -> list[Finding]:
    candidates: list[Candidate] = []
    for detector in detectors():
        candidates.extend(detector.detect(ctx))
    findings = []
    for settled in settle(candidates):
        c, suppressed_by = suppress(settled)
        findings.append(
            Finding(
                finding_id=finding_id(
                    cluster=c.cluster, namespace=c.namespace, kind=c.workload_kind, name=c.workload, type_=c.type.value
                ),
                assessment_date=ctx.assessment_date,
                type=c.type,
                severity=_severity(c),
                confidence=c.confidence,
                cluster=c.cluster,
                namespace=c.namespace,
                workload_kind=c.workload_kind,
                workload=c.workload,
                model=c.model,
                gpu_model=c.gpu_model,
                owner=c.owner,
                title=c.title,
                explanation=c.explanation,
                evidence=c.evidence,
                monthly_waste_usd=c.monthly_waste_usd,
                monthly_at_risk_usd=c.monthly_at_risk_usd,
                first_seen=ctx.assessment_date,
                suppressed=bool(suppressed_by),
                suppressed_by=suppressed_by,
            )
        )
    return sorted(
        findings, key=lambda f: (-f.severity.rank, -(f.monthly_waste_usd + f.monthly_at_risk_usd), f.finding_id)
    )


def with_history(
    findings: Sequence[Finding],
    *,
    assessment_date: date,
    first_seen: Mapping[str, date],
    previously_open: Sequence[Mapping[str, object]],
) -> list[Finding]:
    """new / ongoing from first_seen; a finding open last time but absent now is emitted once as resolved."""
    current = []
    seen_ids = set()
    for f in findings:
        seen_ids.add(f.finding_id)
        earlier = first_seen.get(f.finding_id)
        status = FindingStatus.ONGOING if earlier else FindingStatus.NEW
        current.append(replace(f, first_seen=earlier or f.first_seen, status=status))
    resolved = []
    grouped: dict[str, Mapping[str, object]] = defaultdict(dict)
    for row in previously_open:
        grouped[str(row["finding_id"])] = row
    for fid, row in grouped.items():
        if fid in seen_ids:
            continue
        resolved.append(
            Finding(
                finding_id=fid,
                assessment_date=assessment_date,
                type=FindingType(str(row["type"])),
                severity=Severity.INFO,
                confidence=Confidence(str(row["confidence"])),
                cluster=str(row["cluster"]),
                namespace=str(row["namespace"]),
                workload_kind=str(row["workload_kind"]),
                workload=str(row["workload"]),
                model=str(row["model"]),
                gpu_model=str(row["gpu_model"]),
                owner=str(row["owner"]),
                title=f"Resolved: {row['title']}",
                explanation="Not detected in this assessment; it was open in the previous one.",
                evidence={},
                monthly_waste_usd=0.0,
                monthly_at_risk_usd=0.0,
                first_seen=row["first_seen"],  # type: ignore[arg-type]
                status=FindingStatus.RESOLVED,
            )
        )
    return current + resolved
