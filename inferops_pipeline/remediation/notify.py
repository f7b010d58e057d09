"""Operator notifications (optional, off by default): a Slack-compatible webhook message per approval event."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol


class Notifier(Protocol):
    def send(self, text: str) -> bool:
        """Post one message; False (never an exception) when it could not be delivered."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookNotifier:
    """Slack incoming-webhook payload `{"text": …}`, which Mattermost, Rocket.Chat and Teams workflows accept too."""

    url: str
    timeout_s: float = 5.0

    def send(self, text: str) -> bool:
        if not self.url.startswith(("https://", "http://")):
            return False  # a mistyped URL is a missed message, never a failed run
        body = json.dumps({"text": text}).encode()
        try:
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, TimeoutError, OSError, ValueError):
            # A chat outage must never fail an assessment or an approval; the caller logs the miss.
            return False


@dataclass
class RecordingNotifier:
    """Keeps messages in memory (tests, dry runs of the notification wording)."""

    sent: list[str] = field(default_factory=list)

    def send(self, text: str) -> bool:
        self.sent.append(text)
        return True


def awaiting_approval(*, count: int, savings_usd: float, day: str) -> str:
    return (
        f":inbox_tray: {count} new inferops recommendation(s) from the {day} assessment await approval "
        f"(${savings_usd:,.0f}/month expected savings). Decide in Dagster: asset `remediation`, one partition each."
    )


def remediation_outcome(*, recommendation_id: str, status: str, approver: str, target: str, detail: str) -> str:
    icon = ":white_check_mark:" if status in {"applied", "noop"} else ":x:"
    return f"{icon} remediation {recommendation_id} on {target}: {status} (approved by {approver}). {detail}".strip()
