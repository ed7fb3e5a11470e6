"""R20's limit on what staff send one person: at most 5 invites or resets in 24 hours.

A send log per recipient (a client, or a provider's staff invites, R49) holds the moments of
the sends still inside the window, written in the send's own transaction under its version,
so two racing sends cannot both take the fifth place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import config, db
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Throttled
from chalicelib.models.tokens import SendLog

SEND_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Sends:
    """A recipient's send log as read and its sends inside the window."""

    key: str
    log: SendLog | None
    recent: list[datetime]


def within_limit(key: str, now: datetime, message: str) -> Sends:
    """R20: the sends of the last 24 hours, or 429 (with `message`) when there are five."""
    log = db.get(SendLog, key)
    recent = [moment for moment in (log.sent if log else []) if moment > now - SEND_WINDOW]
    if len(recent) >= config.STAFF_SENDS_PER_DAY:
        wait = min(recent) + SEND_WINDOW - now
        raise Throttled(message, retry_after=max(1, math.ceil(wait.total_seconds())))
    return Sends(key, log, recent)


def count(tx: Tx, sends: Sends, now: datetime) -> None:
    """Add this send to the log in the send's transaction. The log's version makes the write
    conditional on the log being as read: of two racing sends, one fails whole (R20 cannot be
    raced past)."""
    purge = now + SEND_WINDOW + timedelta(hours=1)
    if sends.log is None:
        tx.save(
            SendLog(sends.key, sent=[now], purge_at=purge),
            condition=SendLog.key.does_not_exist(),
            on_conflict=_send_raced,
        )
        return
    tx.update(
        sends.log,
        [SendLog.sent.set([*sends.recent, now]), SendLog.purge_at.set(purge)],
        on_conflict=_send_raced,
    )


def _send_raced() -> Conflict:
    return Conflict(
        "Another invite or reset was sent to this person at the same moment; check their "
        "record before sending again.",
        code="concurrent_change",
    )
