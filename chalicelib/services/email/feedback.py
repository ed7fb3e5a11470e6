"""SES's feedback on sent emails (R54): send, bounce and complaint events of the configuration
set, through SNS to an SQS queue, to this consumer.

Each event names its email job by the `job_id` tag the worker put on the send
(`delivery.JOB_TAG`). A permanent bounce or a complaint suppresses the address for every
organization until staff clear it (services/email/suppressions.py), and the job shows it in
the email log. A `Send` event marks a job SES accepted as sent, should its worker have died
before writing that (issue #18, R41). What to do is looked up by the event's type in
`HANDLERS`, a table other event types (`Delivery`, …) join by adding a row; a type without
one is read and ignored, never retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, db, logs, metrics
from chalicelib.models.emails import EmailJob, EmailStatus, sent_day_key
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
    mail: dict[str, Any] = field(default_factory=dict)  # what SES sent: id, time, destination

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
    return Event(
        event_type,
        job_id,
        tags,
        body if isinstance(body, dict) else {},
        mail if isinstance(mail, dict) else {},
    )


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


def accepted(event: Event) -> str:
    """SES accepted the email (its `Send` event, issue #18). A job still `sending` is marked
    sent from the event: a worker killed after SES took the email and before writing the outcome
    then does not send it again once its claim goes stale (R41). What remains is the event's
    own delay (README "What remains of R41"). The claim stays, so the worker's outcome write, if
    it still comes, succeeds and writes the same."""
    job = _job(event)
    if job is None:
        return "unknown_job"
    sent_at = _moment(event.mail.get("timestamp"))
    actions: list[Action] = [
        EmailJob.status.set(EmailStatus.SENT),
        EmailJob.sent_at.set(sent_at),
        EmailJob.sent_day.set(sent_day_key(job.job_id, sent_at)),
        EmailJob.updated_at.set(clock.now()),
        EmailJob.open_shard.remove(),
        EmailJob.sealed_secret.remove(),  # R53: sent, its link is no longer needed
    ]
    if isinstance(message_id := event.mail.get("messageId"), str):
        actions.append(EmailJob.ses_message_id.set(message_id))
    destination = event.mail.get("destination")
    if isinstance(destination, list) and destination and isinstance(destination[0], str):
        actions.append(EmailJob.to.set(destination[0]))
    try:
        job.update(actions=actions, condition=EmailJob.status == EmailStatus.SENDING)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return "already_recorded"  # the worker wrote its outcome, as it almost always does
    logs.event("email.sent_by_event", job_id=job.job_id, org_id=job.org_id, kind=job.kind)
    metrics.count("EmailsSentRecordedByEvent", kind=job.kind)
    return "recorded_sent"


def _moment(timestamp: object) -> datetime:
    """SES's `mail.timestamp` (ISO 8601, UTC), or now if it is missing or unreadable."""
    if isinstance(timestamp, str):
        try:
            found = datetime.fromisoformat(timestamp)
        except ValueError:
            return clock.now()
        return found if found.tzinfo else found.replace(tzinfo=UTC)
    return clock.now()


# What each SES event type does; a type without a row is ignored.
HANDLERS: dict[str, Callable[[Event], str]] = {
    "Send": accepted,
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
