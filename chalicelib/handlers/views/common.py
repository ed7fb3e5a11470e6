"""What every view shares: a stored moment as the contract writes it."""

from __future__ import annotations

from typing import Any

from chalicelib import clock


def iso_or_none(moment: Any) -> str | None:
    """The contract's time (ISO 8601, UTC, with a Z), or null for a moment not set."""
    return clock.iso(moment) if moment else None
