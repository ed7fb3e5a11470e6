"""Clients as staff see them, with their newest invite (B1) and their timeline (B10); the CSV
import's report (R18); and what the public page's booker or buyer learns (R17)."""

from __future__ import annotations

from typing import Any

from chalicelib import ids
from chalicelib.handlers.views.common import iso_or_none
from chalicelib.handlers.views.email import email_view
from chalicelib.handlers.views.practices import audit_view
from chalicelib.models.appointments import Appointment
from chalicelib.models.audit import AuditEvent
from chalicelib.models.emails import EmailJob
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.tokens import Token
from chalicelib.services.clients.imports import RowOutcome, RowStatus
from chalicelib.services.clients.public import Purchase
from chalicelib.services.clients.timeline import Event
from chalicelib.services.invites.invites import InviteOutcome


def client_view(profile: ClientProfile, invite: InviteOutcome | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": profile.client_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "email": profile.email,
        "shared_email": profile.shared_email,
        "phone": profile.phone,
        "dob": profile.dob,
        "client_type": profile.client_type,
        "group_id": profile.group_id,
        "primary_provider_id": profile.primary_provider_id,
        "care_team": list(profile.care_team),
        "status": profile.status,
        "source": profile.source,
        # R11: a client without email has no portal access and gets no emails.
        "portal_access": profile.email is not None,
        "created_at": iso_or_none(profile.created_at),
        "updated_at": iso_or_none(profile.updated_at),
        "archived_at": iso_or_none(profile.archived_at),
        # R26: the profile's links, either side, with whom and how (kept on the profile).
        "links": sorted(
            (profile.link_summary or {}).values(), key=lambda link: str(link["link_id"])
        ),
        # B11: the client asked to leave, from the portal; staff decide (archive, R38).
        "leave_request": (
            {
                "requested_at": iso_or_none(profile.leave_requested_at),
                "reason": profile.leave_reason,
            }
            if profile.leave_requested_at
            else None
        ),
    }
    if invite is not None:
        shown["invite"] = invite_view(invite)
    return shown


def invite_view(invite: InviteOutcome) -> dict[str, Any]:
    """B1: the client's newest invite, `pending`, `accepted`, `expired`, `superseded`,
    `revoked` or `not_sent` (with its reason, R11)."""
    return {
        "status": invite.status,
        "reason": invite.reason,
        "sent_at": iso_or_none(invite.sent_at),
        "expires_at": iso_or_none(invite.expires_at),
    }


def timeline_view(event: Event) -> dict[str, Any]:
    """B10: one line of a client's timeline, its record as the client record (an invite, B1),
    the email log (R43) or the audit log (R47) shows it; the other two are null."""
    record = event.record
    shown: dict[str, Any] = {"type": event.type, "at": iso_or_none(event.at)}
    if isinstance(record, Token):
        assert event.invite is not None
        # An invite's own key is the hash of its secret: shown only hashed again.
        shown["id"] = f"iv_{ids.token_hash(record.token_hash)[:24]}"
        shown["invite"] = invite_view(event.invite)
    elif isinstance(record, EmailJob):
        shown["id"] = record.job_id
        shown["email"] = email_view(record)
    elif isinstance(record, AuditEvent):
        shown["id"] = record.event_id
        shown["audit"] = audit_view(record)
    return {"invite": None, "email": None, "audit": None, **shown}


def import_view(outcomes: list[RowOutcome]) -> dict[str, Any]:
    """R18: each line's outcome, and the counts."""
    rows = []
    for outcome in outcomes:
        row: dict[str, Any] = {"line": outcome.line, "status": outcome.status}
        if outcome.reason:
            row["reason"] = outcome.reason
        if outcome.client_id:
            row["client_id"] = outcome.client_id
        rows.append(row)
    counts: dict[str, int] = dict.fromkeys(RowStatus, 0)  # created, skipped, rejected
    for outcome in outcomes:
        counts[outcome.status] += 1
    return {"rows": rows, **counts}


def booking_view(appointment: Appointment) -> dict[str, Any]:
    """R17, R4: what the anonymous booker learns, alike whether their email was known."""
    return {
        "id": appointment.appointment_id,
        "provider_id": appointment.provider_id,
        "starts_at": iso_or_none(appointment.starts_at),
        "minutes": appointment.minutes,
        "type": appointment.type,
    }


def purchase_view(bought: Purchase) -> dict[str, Any]:
    return {
        "id": bought.purchase_id,
        "package": bought.package,
        "created_at": iso_or_none(bought.created_at),
    }
