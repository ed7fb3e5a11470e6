"""Scheduled triggers (EventBridge): the outbox sweep, appointment reminders, follow-up
invites and reminders before caregiver grants end (R14, R42, R44, B5). Each runs within
Lambda's remaining time and resumes from its checkpoint next time (issue #18)."""

from __future__ import annotations

from chalice.app import CloudWatchEvent

from chalicelib.services import triggers
from chalicelib.services.checkpoints import Budget


def outbox_sweep(event: CloudWatchEvent) -> None:
    triggers.outbox_sweep(budget=Budget.of_lambda(event.context))


def appointment_reminders(event: CloudWatchEvent) -> None:
    triggers.reminders(budget=Budget.of_lambda(event.context))


def caregiver_grants_ending(event: CloudWatchEvent) -> None:
    triggers.grants_ending(budget=Budget.of_lambda(event.context))


def invite_follow_ups(event: CloudWatchEvent) -> None:
    triggers.follow_ups(budget=Budget.of_lambda(event.context))
