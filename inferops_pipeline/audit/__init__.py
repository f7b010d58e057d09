"""Append-only, sha256 hash-chained audit log: append events, verify the chain, export it as JSON lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inferops_pipeline.warehouse import Warehouse

GENESIS = "0" * 64


def _digest(*, prev_hash: str, ts: str, actor: str, event: str, subject: str, payload: str, run_id: str) -> str:
    canonical = json.dumps([prev_hash, ts, actor, event, subject, payload, run_id], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    actor: str
    event: str
    subject: str
    payload: dict[str, Any]


def append(wh: Warehouse, events: Iterable[AuditEvent], *, run_id: str) -> int:
    """Links each event to the previous hash inside one transaction, so a chain is never half-written."""
    count = 0
    with wh.transaction():
        tail = wh.query("queries/audit_tail")
        prev = str(tail.iloc[0]["hash"]) if not tail.empty else GENESIS
        for e in events:
            ts = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
            payload = json.dumps(e.payload, sort_keys=True, default=str)
            digest = _digest(
                prev_hash=prev, ts=ts, actor=e.actor, event=e.event, subject=e.subject, payload=payload, run_id=run_id
            )
            wh.run(
                "load/audit_append",
                ts=ts,
                actor=e.actor,
                event=e.event,
                subject=e.subject,
                payload=payload,
                run_id=run_id,
                prev_hash=prev,
                hash=digest,
            )
            prev = digest
            count += 1
    return count


def verify(wh: Warehouse) -> tuple[int, int | None, str]:
    """(rows checked, first broken seq or None, reason)."""
    rows = wh.query("queries/audit_all")
    prev = GENESIS
    for record in rows.to_dict(orient="records"):
        ts = (
            record["ts"].isoformat(timespec="microseconds") if hasattr(record["ts"], "isoformat") else str(record["ts"])
        )
        payload = json.dumps(json.loads(record["payload"]), sort_keys=True, default=str)
        expected = _digest(
            prev_hash=prev,
            ts=ts,
            actor=record["actor"],
            event=record["event"],
            subject=record["subject"],
            payload=payload,
            run_id=record["run_id"],
        )
        if record["prev_hash"] != prev:
            return len(rows), int(record["seq"]), "prev_hash does not match the previous row's hash"
        if record["hash"] != expected:
            return len(rows), int(record["seq"]), "hash does not match the row's contents"
        prev = record["hash"]
    return len(rows), None, "ok"


def export(wh: Warehouse, *, since_seq: int = 0) -> Iterator[str]:
    """One JSON object per row in chain order, with its hashes, so an export can be re-verified elsewhere."""
    rows = wh.query("queries/audit_export", since_seq=since_seq)
    for record in rows.to_dict(orient="records"):
        ts = record["ts"]
        yield json.dumps(
            {
                "seq": int(record["seq"]),
                "ts": ts.isoformat(timespec="microseconds") if hasattr(ts, "isoformat") else str(ts),
                "actor": record["actor"],
                "event": record["event"],
                "subject": record["subject"],
                # The payload stays an object (not a string) so tools like jq can query it directly.
                "payload": json.loads(record["payload"]),
                "run_id": record["run_id"],
                "prev_hash": record["prev_hash"],
                "hash": record["hash"],
            },
            sort_keys=True,
            default=str,
        )
