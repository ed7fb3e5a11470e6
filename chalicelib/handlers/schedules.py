"""Scheduled triggers (EventBridge): the outbox sweep and appointment reminders (R42, R44)."""

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
