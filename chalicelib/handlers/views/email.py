"""An email as the log shows it to staff (R43, B1)."""

from __future__ import annotations

from typing import Any

from chalicelib.handlers.views.common import iso_or_none
from chalicelib.models.emails import EmailJob, EmailStatus, SuppressedAddress
from chalicelib.services.email.notifications import Notified


def email_view(job: EmailJob, invite_status: str | None = None) -> dict[str, Any]:
    """The email log's line (R43): what, to whom, and how it ended; for an invite email, the
    status of the invite it carries (B1). A sent email SES reported back is `bounced`, with
    what it reported (`bounced` or `complained`) as its reason (R54)."""
    status, reason = job.status, job.reason
    if job.feedback and status == EmailStatus.SENT:
        status, reason = "bounced", job.feedback
    return {
        "invite_status": invite_status,
        "id": job.job_id,
        "kind": job.kind,
        "client_id": job.client_id,
        "to": job.to,
        "status": status,
        "reason": reason,
        "created_at": iso_or_none(job.created_at),
        "sent_at": iso_or_none(job.sent_at),
    }


def notification_view(notified: Notified) -> dict[str, Any]:
    """R54: the notification and its email (queued: the email log tells its outcome)."""
    return {
        "id": notified.notification_id,
        "kind": notified.kind,
        "emails": [email_view(job) for job in notified.emails],
    }


def suppressed_view(found: SuppressedAddress) -> dict[str, Any]:
    return {"email": found.address, "reason": found.reason, "since": iso_or_none(found.at)}
