"""Scheduled triggers (EventBridge): the outbox sweep, appointment reminders, follow-up
invites and reminders before caregiver grants end (R14, R42, R44, B5)."""

from __future__ import annotations

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

from chalicelib.services import triggers

bp = Blueprint(__name__)


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def outbox_sweep(event: CloudWatchEvent) -> None:
    triggers.outbox_sweep()


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def appointment_reminders(event: CloudWatchEvent) -> None:
    triggers.reminders()


@bp.schedule(Rate(1, unit=Rate.HOURS))
def caregiver_grants_ending(event: CloudWatchEvent) -> None:
    triggers.grants_ending()


@bp.schedule(Rate(15, unit=Rate.MINUTES))
def invite_follow_ups(event: CloudWatchEvent) -> None:
    triggers.follow_ups()
