"""The scheduled triggers (R42, R44, B5), one function each; EventBridge runs them on AWS and the
local stage's tick runs them all at a chosen moment."""

from __future__ import annotations

from datetime import datetime

from chalicelib.services import appointments, outbox
from chalicelib.services.families import caregiver_grants
from chalicelib.services.invites.follow_ups import send_due_follow_ups


def outbox_sweep(now: datetime | None = None) -> dict[str, int]:
    """Send again the jobs left open; bury those the queue gave up on (R42)."""
    return {"resent": outbox.resend_open(now), "dead": outbox.bury_dead_letters()}


def reminders(now: datetime | None = None) -> dict[str, int]:
    return {"reminders": appointments.send_due_reminders(now)}


def grants_ending(now: datetime | None = None) -> dict[str, int]:
    """B5: caregiver grants about to end: the caregiver and the client are told, once."""
    return {"grant_reminders": caregiver_grants.remind_ending_grants(now)}


def follow_ups(now: datetime | None = None) -> dict[str, int]:
    """Follow-up invites to clients who have not accepted (R14, R44)."""
    return {"follow_ups": send_due_follow_ups(now)}


def run_all(now: datetime | None = None) -> dict[str, int]:
    return {**reminders(now), **follow_ups(now), **grants_ending(now), **outbox_sweep(now)}
