"""SES's feedback on sent emails (R54): bounce and complaint events of the configuration set,
through SNS to an SQS queue, to this consumer.

Each event names its email job by the `job_id` tag the worker put on the send
(`delivery.JOB_TAG`). A permanent bounce or a complaint suppresses the address for every
organization until staff clear it (services/email/suppressions.py), and the job shows it in
the email log. What to do is looked up by the event's type in `HANDLERS`, a table that other
event types (SES's `Send`, `Delivery`, …) join by adding a row; a type without one is read
and ignored, never retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import db, logs, metrics
from chalicelib.models.emails import EmailJob
from chalicelib.services import outbox
from chalicelib.services.email import suppressions
from chalicelib.services.email.delivery import JOB_TAG


@dataclass(frozen=True)
class Event:
    """One SES event, as much of it as Portico reads."""

    event_type: str
    job_id: str | None  # from the send's tag; None when the send carried none (or not ours)
    tags: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)  # the event's own object (`bounce`, …)

    def recipients(self, key: str) -> list[str]:
        listed = self.body.get(key) or []
        return [r["emailAddress"] for r in listed if isinstance(r, dict) and r.get("emailAddress")]


def parse(message: str) -> Event | None:
    """An SQS message's event: SNS's envelope around it, or the event itself (SNS raw message
    delivery); SES's event publishing (`eventType`) or identity notifications
    (`notificationType`). None for anything else."""
    try:
        found = json.loads(message)
        if isinstance(found, dict) and found.get("Type") == "Notification":
            found = json.loads(found["Message"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(found, dict):
        return None
    event_type = found.get("eventType") or found.get("notificationType")
    if not isinstance(event_type, str):
        return None
    mail = found.get("mail")
    tags: dict[str, Any] = {}
    if isinstance(mail, dict) and isinstance(mail.get("tags"), dict):
        tags = mail["tags"]
    named = tags.get(JOB_TAG)
    first = named[0] if isinstance(named, list) and named else None
    job_id = first if isinstance(first, str) and outbox.is_job_id(first) else None
    body = found.get(event_type[:1].lower() + event_type[1:])
    return Event(event_type, job_id, tags, body if isinstance(body, dict) else {})


def _job(event: Event) -> EmailJob | None:
    return db.get(EmailJob, event.job_id) if event.job_id else None


def _suppress(event: Event, key: str, reason: str) -> str:
    job = _job(event)
    for address in event.recipients(key):
        suppressions.mark(address, reason, job.org_id if job else None, event.job_id)
    if job is not None:
        try:  # the email log shows what came back (R54); a purged job has no line to mark
            job.update(actions=[EmailJob.feedback.set(reason)], condition=EmailJob.job_id.exists())
        except UpdateError:
            logs.event("ses_feedback.job_gone", job_id=event.job_id)
    metrics.count("EmailsBounced" if reason == suppressions.BOUNCED else "EmailsComplained")
    return reason


def bounce(event: Event) -> str:
    """A permanent bounce suppresses the address; a transient one (a full mailbox, a timeout)
    is SES's to retry, and stops nothing."""
    if event.body.get("bounceType") != "Permanent":
        return "transient_bounce"
    return _suppress(event, "bouncedRecipients", suppressions.BOUNCED)


def complaint(event: Event) -> str:
    return _suppress(event, "complainedRecipients", suppressions.COMPLAINED)


# What each SES event type does; a type without a row is ignored.
HANDLERS: dict[str, Callable[[Event], str]] = {
    "Bounce": bounce,
    "Complaint": complaint,
}


def handle(message: str) -> str:
    """One queue message: its outcome's name (for the logs and the local route)."""
    event = parse(message)
    if event is None:
        logs.event("ses_feedback.unreadable")
        return "unreadable"
    handler = HANDLERS.get(event.event_type)
    outcome = handler(event) if handler else "ignored"
    logs.event("ses_feedback", event_type=event.event_type, job_id=event.job_id, outcome=outcome)
    return outcome
