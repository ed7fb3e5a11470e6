"""The notifications API (R54): the platform's other services, or staff, ask Portico to notify
a client with one kind of the catalogue; Portico queues its email, and the worker picks the
recipients, suppresses with the reason, brands and sends once (R29, R36–R38, R41, R43).

An `Idempotency-Key` makes a retried call answer what the first answered (R41): the key's
record is written under `does_not_exist` in the notification's own transaction, so of two
calls racing with one key exactly one queues an email; the other answers the first result.
The same key with another request (client, kind or data) is refused with 409.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import clock, db, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import EmailJob, EmailStatus, NotificationRequest
from chalicelib.rules.actors import Actor
from chalicelib.rules.notifications import Data
from chalicelib.schemas.notifications import SendNotification, data_of
from chalicelib.services import access, notifications, records

# How long a key answers its first result (Stripe keeps its keys a day; retries come sooner).
IDEMPOTENCY_TTL = timedelta(days=7)


@dataclass(frozen=True)
class PlatformService:
    """One of the platform's own services, calling with an IAM-signed request (API Gateway
    checked the signature; `principal` is the caller's ARN, for the logs' ids)."""

    principal: str


Caller = Actor | PlatformService


@dataclass(frozen=True)
class Notified:
    notification_id: str
    kind: str
    emails: list[EmailJob]


class _KeyTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used meanwhile.")


def _key_reused() -> Conflict:
    return Conflict(
        "This Idempotency-Key was used for another request; use a new key for a new notification.",
        code="idempotency_key_reused",
    )


def notify(
    caller: Caller, org_id: str, client_id: str, req: SendNotification, key: str | None
) -> Notified:
    """R54: queue the client's email of `req.kind` (once per `key`)."""
    if isinstance(caller, PlatformService):
        records.org(org_id)  # IAM said who may call; the record must still exist (R4)
    else:
        access.staff_of(caller, org_id)
    data = data_of(req)
    profile = records.client(org_id, client_id)
    fingerprint = _fingerprint(client_id, req.kind, data)
    if key is not None and (earlier := _answered(org_id, key, fingerprint)) is not None:
        return earlier
    notification_id = ids.new_id("nt")
    tx = Tx()
    job = notifications.queue(tx, profile, req.kind, data)
    if key is not None:
        tx.save(
            NotificationRequest(
                NotificationRequest.key_for(org_id, key),
                fingerprint=fingerprint,
                notification_id=notification_id,
                kind=req.kind,
                client_id=client_id,
                job_ids=[job.job_id],
                to=job.to,
                created_at=job.created_at,
                purge_at=clock.now() + IDEMPOTENCY_TTL,
            ),
            condition=NotificationRequest.key.does_not_exist(),
            on_conflict=_KeyTaken,
        )
    try:
        tx.commit()
    except _KeyTaken:
        # Another call with this key won the race: its answer is ours (or a 409).
        earlier = _answered(org_id, key or "", fingerprint)
        if earlier is None:
            raise
        return earlier
    logs.event(
        "notification.queued",
        org_id=org_id,
        client_id=client_id,
        notification_id=notification_id,
        kind=req.kind,
        job_id=job.job_id,
    )
    return Notified(notification_id, req.kind, [job])


def _fingerprint(client_id: str, kind: str, data: Data) -> str:
    asked = {"client_id": client_id, "kind": kind, "data": data.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def _answered(org_id: str, key: str, fingerprint: str) -> Notified | None:
    """The first answer given with `key`, or None if there is none; 409 if it was for
    another request."""
    found = db.get(NotificationRequest, NotificationRequest.key_for(org_id, key))
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise _key_reused()
    return Notified(
        found.notification_id,
        found.kind,
        [_as_queued(org_id, found, job_id, found.created_at) for job_id in found.job_ids],
    )


def _as_queued(org_id: str, found: NotificationRequest, job_id: str, at: datetime) -> EmailJob:
    """The email as the first answer showed it: queued (its outcome is in the email log)."""
    return EmailJob(
        job_id,
        org_id=org_id,
        kind=found.kind,
        client_id=found.client_id,
        to=found.to,
        status=EmailStatus.QUEUED,
        created_at=at,
        updated_at=at,
    )
