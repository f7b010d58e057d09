"""Asset checks on the findings asset: evidence on every open finding, no negative dollars, unique ids per night."""

from datetime import date
from typing import Any

import dagster as dg

from inferops_pipeline.defs.resources import InferopsResource
from inferops_pipeline.warehouse import Warehouse

EVIDENCE = "every_open_finding_has_evidence"
MONEY = "dollars_never_negative"
UNIQUE = "finding_ids_unique_per_date"


def evaluate(wh: Warehouse, day: date) -> list[dg.AssetCheckResult]:
    """The three check results for one night's findings (resolved rows carry no evidence by design)."""
    frame = wh.query("queries/findings_check", assessment_date=day)
    row = {str(k): v for k, v in frame.to_dict(orient="records")[0].items()}
    missing, negative, duplicates = int(row["without_evidence"]), int(row["negative_money"]), int(row["duplicate_ids"])
    evidence: dict[str, Any] = {"date": str(day), "rows": int(row["rows"]), "without_evidence": missing}
    money: dict[str, Any] = {"date": str(day), "negative_rows": negative}
    # A few ids make a failed check actionable from the UI without opening the warehouse.
    if missing:
        evidence["examples"] = ", ".join(map(str, row["without_evidence_sample"]))
    if negative:
        money["examples"] = ", ".join(map(str, row["negative_money_sample"]))
    return [
        dg.AssetCheckResult(check_name=EVIDENCE, passed=missing == 0, metadata=evidence),
        dg.AssetCheckResult(check_name=MONEY, passed=negative == 0, metadata=money),
        dg.AssetCheckResult(
            check_name=UNIQUE,
            passed=duplicates == 0,
            metadata={"date": str(day), "duplicate_ids": duplicates},
        ),
    ]


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(EVIDENCE, asset="findings", description="No open finding without its evidence JSON."),
        dg.AssetCheckSpec(MONEY, asset="findings", description="Monthly waste and at-risk dollars are never negative."),
        dg.AssetCheckSpec(UNIQUE, asset="findings", description="A finding id appears at most once per night."),
    ],
    pool="warehouse",
)
def findings_checks(context: dg.AssetCheckExecutionContext, inferops: InferopsResource) -> Any:
    # The checks run in the nightly run that materialized the partition, so they read that night's rows.
    day = date.fromisoformat(context.partition_key)
    with inferops.warehouse() as wh:
        yield from evaluate(wh, day)
