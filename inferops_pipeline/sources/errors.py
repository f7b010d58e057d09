"""Error types shared by every source: bad input files versus failures talking to a live system."""

from __future__ import annotations

from inferops_pipeline.settings import ConfigError


class SourceError(Exception):
    """A live source failed (unreachable, forbidden, rejected query); the message is one line."""


class SnapshotError(ConfigError):
    """A snapshot file or directory is missing or malformed; the message is one line naming the path."""


def one_line(text: object, *, limit: int = 300) -> str:
    """Server messages can be multi-line or huge; errors we raise must stay one readable line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
