"""The scheduled triggers (R42, R44, B5), one function each; EventBridge runs them on AWS and the
local stage's tick runs them all at a chosen moment.

Each runs under a budget (Lambda's remaining time on AWS) and resumes from its checkpoint, so
a stopped schedule catches up and a backlog drains across runs (issue #18)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.services import appointments, outbox
from chalicelib.services.checkpoints import Budget
from chalicelib.services.families import caregiver_grants
from chalicelib.services.invites.follow_ups import send_due_follow_ups


def outbox_sweep(now: datetime | None = None, budget: Budget | None = None) -> dict[str, int]:
    """Bury the jobs the queue gave up on; send again those left open (R42). The two share
    the run's budget: the burials (few, unless the queue failed wholesale) first."""
    budget = budget or Budget()
    dead = outbox.bury_dead_letters(budget=budget)
    return {"resent": outbox.resend_open(now, budget), "dead": dead}


def reminders(now: datetime | None = None, budget: Budget | None = None) -> dict[str, int]:
    return {"reminders": appointments.send_due_reminders(now, budget)}


def grants_ending(now: datetime | None = None, budget: Budget | None = None) -> dict[str, int]:
    """B5: caregiver grants about to end: the caregiver and the client are told, once."""
    return {"grant_reminders": caregiver_grants.remind_ending_grants(now, budget)}


def follow_ups(now: datetime | None = None, budget: Budget | None = None) -> dict[str, int]:
    """Follow-up invites to clients who have not accepted (R14, R44)."""
    return {"follow_ups": send_due_follow_ups(now, budget)}


def run_all(now: datetime | None = None) -> dict[str, int]:
    return {**reminders(now), **follow_ups(now), **grants_ending(now), **outbox_sweep(now)}
