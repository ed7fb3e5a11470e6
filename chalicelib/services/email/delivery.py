"""The email worker's rules (R36–R38, R40–R43): one job at a time, sent once, or suppressed
with its reason, or left for the queue to retry and finally bury.

`deliver` claims the job under a condition before anything else, so two deliveries of one
job (redelivery, the sweep, two workers racing) send one email (R41). `process_batch` keeps
one bad job from failing its batch (R42).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, Protocol

from chalicelib import aws, clock, config, db, ids, logs, metrics, sealing
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import EmailJob, EmailStatus, SuppressedAddress, sent_day_key
from chalicelib.models.identities import Identity
from chalicelib.models.links import Contact, Link
from chalicelib.models.orgs import Group, Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.accounts import ClosedReason, client_account_closed
from chalicelib.rules.email_kinds import KINDS, EmailKind
from chalicelib.rules.settings import effective_for_client
from chalicelib.sealing import Sealed
from chalicelib.services import outbox, tokens
from chalicelib.services.email import asked, copies, rendering, suppressions
from chalicelib.services.email.rendering import Rendered
from chalicelib.services.practices import branding


class Sender(Protocol):
    """Where rendered emails go: SES in every stage (moto locally); a fake in unit tests."""

    def send(
        self, source: str, to: str, reply_to: str | None, message: Rendered, job_id: str
    ) -> str: ...


class SesSender:
    def send(
        self, source: str, to: str, reply_to: str | None, message: Rendered, job_id: str
    ) -> str:
        """R54: through the configuration set whose bounce and complaint events come back
        (services/email/feedback.py), tagged with the job, so each event names its job."""
        extra: dict[str, Any] = {}
        if config.SES_CONFIGURATION_SET:
            extra["ConfigurationSetName"] = config.SES_CONFIGURATION_SET
        answer = aws.client("ses").send_email(
            Source=source,
            Destination={"ToAddresses": [to]},
            ReplyToAddresses=[reply_to] if reply_to else [],
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {
                    "Html": {"Data": message.html, "Charset": "UTF-8"},
                    "Text": {"Data": message.text, "Charset": "UTF-8"},
                },
            },
            Tags=[{"Name": JOB_TAG, "Value": job_id}],
            **extra,
        )
        return answer["MessageId"]


# The SES message tag naming the email job a send was for (SES feedback names it back, R54).
JOB_TAG = "job_id"


@dataclass(frozen=True)
class Record:
    """One queue message: the job it names and what deleting it takes."""

    message_id: str
    job_id: str
    receipt_handle: str


class Batch(NamedTuple):
    """What became of a batch: each outcome counted; the records that go back to the queue."""

    outcomes: Counter[str]
    failed: list[Record]  # the delivery raised: retried (where the caller can, at once)
    # Another delivery holds the job's claim right now: the message comes back after its
    # visibility timeout, when that delivery has ended the job or its claim has gone stale.
    waiting: list[Record]


@dataclass(frozen=True)
class _Sent:
    address: str
    message: Rendered
    message_id: str
    branded_org_id: str | None


_ENDED = {EmailStatus.SENT, EmailStatus.SUPPRESSED, EmailStatus.DEAD}


def deliver(job_id: str, sender: Sender, now: datetime | None = None) -> str:
    """Send, suppress or skip one job; the outcome names which.

    Three DynamoDB calls for an email (issue #17): the claim, which answers the job (or, when
    it fails, the job as it stood, which says why); one BatchGetItem of all the email needs;
    the outcome. Anything that fails once the job is claimed (SES, rendering, DynamoDB, a kind
    this code does not know yet) releases the claim with the error and raises, so the queue
    retries it (R42); a job that has failed `EMAIL_MAX_RECEIVES` deliveries, across all its
    messages, goes to the dead-letter queue instead of being tried again."""
    now = now or clock.now()
    if not outbox.is_job_id(job_id):
        return "unknown"  # a message that names no job has nothing to send nor to retry
    claim = ids.new_token()
    claimed = _claim(job_id, claim, now)
    job = claimed.item
    if not claimed.written or job is None:
        return _not_claimed(job)
    own_org: Organization | None = None
    try:
        if asked.is_asked(job) and not asked.address(job, claim):  # R51: looked up only here
            _suppress(job, claim, None, job.to, "nothing_to_send")
            sent = None
        else:
            records = _records_of(job)
            own_org = records.org
            sent = _suppress_or_send(job, claim, records, sender)
    except Exception as exc:
        _release(job, claim, f"{type(exc).__name__}: {exc}"[:500], own_org)
        raise
    if sent is None:
        return "suppressed"
    # SES has the email: a failure to record it is not released (that would send it again at
    # once); the claim goes stale and the sweep decides (R41's redelivery check).
    _end(
        job,
        claim,
        EmailStatus.SENT,
        own_org,
        to=sent.address,
        sent_at=clock.now(),
        subject=sent.message.subject,
        message_id=sent.message_id,
        branded_org_id=sent.branded_org_id,
    )
    logs.event("email.sent", job_id=job.job_id, org_id=job.org_id, kind=job.kind)
    metrics.count("EmailsSent", kind=job.kind)
    return "sent"


def _not_claimed(job: EmailJob | None) -> str:
    """Why a delivery did not get the job, from the job as it stood when the claim failed."""
    if job is None:
        return "unknown"
    if job.status in _ENDED:
        return "duplicate"  # R41: delivered twice, sent once
    if (job.attempts or 0) >= config.EMAIL_MAX_RECEIVES:
        # R42: the sweep's resends each start SQS's receive count afresh, so the queue's
        # redrive may never see this job fail enough; the job's own count does. Its message
        # goes where the redrive would have put it, and the dead-letter sweep ends it `dead`.
        outbox.send_to_dead_letters([job.job_id])
        return "dead_lettered"
    return "in_flight"  # another delivery holds a fresh claim


@dataclass(frozen=True)
class _Records:
    """What a job is about, as read once its claim is held."""

    org: Organization | None
    identity: Identity | None
    profile: ClientProfile | None
    token: Token | None  # the token of the link or code it carries (R43)
    stop: SuppressedAddress | None  # the suppression of the job's own address, if any (R54)
    suppression_read: str | None  # the address whose suppression was read with the rest
    holder: Contact | Link | None  # a copy's holder (R29)


def _records_of(job: EmailJob) -> _Records:
    """The job's practice, login, client, token, copy holder and the suppression of the address
    it names, in one BatchGetItem (`db.get_together`): their keys are all on the job."""
    keys: list[db.Key] = [(Organization, job.org_id, "org")]
    if job.identity_id:
        keys.append((Identity, job.identity_id, None))
    if job.client_id:
        keys.append((ClientProfile, job.org_id, job.client_id))
    token_hash = job.context.get("token_hash")
    if token_hash:
        keys.append((Token, token_hash, None))
    stop_key = suppressions.key_of_stored(job.to) if job.to else None
    if stop_key:
        keys.append((SuppressedAddress, stop_key, None))
    holder_key = copies.holder_key(job)
    if holder_key:
        keys.append(holder_key)
    found = db.get_together(keys)
    holder = found.of(*holder_key) if holder_key else None
    return _Records(
        found.of(Organization, job.org_id, "org"),
        found.of(Identity, job.identity_id, None) if job.identity_id else None,
        found.of(ClientProfile, job.org_id, job.client_id) if job.client_id else None,
        found.of(Token, token_hash, None) if token_hash else None,
        found.of(SuppressedAddress, stop_key, None) if stop_key else None,
        job.to if stop_key else None,
        holder if isinstance(holder, Contact | Link) else None,
    )


def _stopped_by(address: str, records: _Records) -> str | None:
    """R54: why SES said not to send to `address` (bounced, complained), or None; read with
    the rest when it is the job's own address, else by itself."""
    if address == records.suppression_read:
        return records.stop.reason if records.stop else None
    return suppressions.reason_for(address)


def _suppress_or_send(job: EmailJob, claim: str, records: _Records, sender: Sender) -> _Sent | None:
    """Under the claim: suppress the job with its reason (None), or render and send it."""
    kind = KINDS[job.kind]  # a KeyError for a kind a newer deploy queued: released, retried
    own_org, identity = records.org, records.identity
    address, reason = recipient(job, kind, own_org, identity, records.profile)
    if reason is None and kind.live_link and not _link_live(job, records.token):
        reason = "invite_superseded"  # R43: the link (or code) in it died before it went out
    if reason is None and job.copy_holder:
        # R29: the client's decision, then the holder's own
        address, reason = copies.holder_address(job, records.holder)
    if reason is None and address and (stop := _stopped_by(address, records)):
        reason = stop  # R54: SES said the address bounced or complained; until staff clear it
        suppressions.stopped(address, job.org_id)
    if reason:
        _suppress(job, claim, own_org, address, reason)
        return None
    assert address is not None
    if kind.copies and not job.copy_holder:
        copies.queue_for(job, records.profile)  # R29: the client's email is sent, so its copies are
    org = branding.branding_org(kind, own_org, identity)
    brand = branding.branding_of(org)
    message = rendering.render(kind, _values(job, kind), brand)
    source = branding.from_header(brand)
    message_id = sender.send(source, address, brand.get("reply_to"), message, job.job_id)
    return _Sent(address, message, message_id, org.org_id if org else None)


def _suppress(
    job: EmailJob, claim: str, org: Organization | None, address: str | None, reason: str
) -> None:
    _end(job, claim, EmailStatus.SUPPRESSED, org, to=address, reason=reason)
    logs.event("email.suppressed", job_id=job.job_id, org_id=job.org_id, reason=reason)
    metrics.count("EmailsSuppressed", reason=reason)


def _values(job: EmailJob, kind: EmailKind) -> dict[str, Any]:
    """The job's context, with its link or code opened for this rendering only (R53)."""
    if kind.sealed is None or job.sealed_secret is None:
        return job.context
    secret = sealing.unseal(Sealed(job.sealed_secret, job.context["token_hash"]))
    return {**job.context, kind.sealed: secret}


def recipient(
    job: EmailJob,
    kind: EmailKind,
    org: Organization | None,
    identity: Identity | None,
    profile: ClientProfile | None,
) -> tuple[str | None, str | None]:
    """The address an email goes to, or why it is suppressed (R11, R36–R38, R43)."""
    if job.client_id is None:
        # Else an address with no login yet (a group sign-up's confirmation, R51): the job's.
        address = identity.email if identity else job.to
        return address, None if address else "no_email"
    if profile is None or client_account_closed(profile, None) == ClosedReason.ARCHIVED:
        return (profile.email if profile else None), ClosedReason.ARCHIVED
    if not profile.email:
        return None, "no_email"
    group = db.get(Group, job.org_id, Group.sk_for(profile.group_id)) if profile.group_id else None
    settings = effective_for_client(profile, org, {group.group_id: group} if group else {})
    if closed := client_account_closed(profile, settings):
        return profile.email, closed
    if kind.feature and not settings.allows(kind.feature):
        return profile.email, "feature_off"
    return profile.email, None


def _link_live(job: EmailJob, token: Token | None) -> bool:
    """R43: whether the secret an email carries still works (its job names its token)."""
    if not job.context.get("token_hash"):
        return True
    return token is not None and tokens.status_of(token) == TokenStatus.LIVE


def _claim(job_id: str, claim: str, now: datetime) -> db.Updated[EmailJob]:
    """Claim the job if a delivery may take it and it has deliveries left: one UpdateItem that
    answers the job as claimed, or as it stood when the claim failed (None: no such job)."""
    stale = outbox.stale_claims_before(now)
    return _claim_shape().send(job_id, claim=claim, now=now, stale=stale)


@cache
def _claim_shape() -> db.UpdateShape[EmailJob]:
    """The claim's UpdateItem, built once (issue #17: the same for every email)."""
    claim, now = db.slot("claim", EmailJob.claim), db.slot("now", EmailJob.claimed_at)
    return db.update_shape(
        EmailJob,
        [
            EmailJob.status.set(EmailStatus.SENDING),
            EmailJob.claim.set(claim),
            EmailJob.claimed_at.set(now),
            EmailJob.attempts.add(1),
            EmailJob.updated_at.set(now),
        ],
        outbox.claimable_if_claimed_before(db.slot("stale", EmailJob.claimed_at))
        & ((EmailJob.attempts < config.EMAIL_MAX_RECEIVES) | EmailJob.attempts.does_not_exist()),
    )


def _end(
    job: EmailJob,
    claim: str,
    status: EmailStatus,
    org: Organization | None,
    *,
    to: str | None,
    reason: str | None = None,
    sent_at: datetime | None = None,
    subject: str | None = None,
    message_id: str | None = None,
    branded_org_id: str | None = None,
) -> None:
    """End the job under its claim. R53: what stays is what the email log needs (kind, to,
    outcome, times, subject); the sealed link goes, no body is kept, and the job expires after
    its organization's retention."""
    told: dict[str, Any] = {
        "to": to,
        "reason": reason,
        "sent_at": sent_at,
        "sent_day": sent_day_key(job.job_id, sent_at) if sent_at else None,
        "subject": subject,
        "ses_message_id": message_id,
        "branded_org_id": branded_org_id,
    }
    told = {name: value for name, value in told.items() if value}
    shape = _end_shape(tuple(told))
    # Nothing read back: the job's outcome is the last the worker says of it.
    ended = shape.send(
        job.job_id,
        claim=claim,
        status=status,
        updated_at=clock.now(),
        purge_at=outbox.purge_at(job, org),
        **told,
    )
    if not ended.written:
        raise _ClaimLost()


@cache
def _end_shape(told: tuple[str, ...]) -> db.UpdateShape[EmailJob]:
    """The outcome's UpdateItem for the attributes an outcome `told` (one shape each: sent,
    suppressed with or without an address...), built once."""
    attributes = EmailJob.get_attributes()
    actions = [
        EmailJob.status.set(db.slot("status", EmailJob.status)),
        EmailJob.updated_at.set(db.slot("updated_at", EmailJob.updated_at)),
        EmailJob.open_shard.remove(),
        EmailJob.claim.remove(),
        EmailJob.sealed_secret.remove(),
        EmailJob.purge_at.set(db.slot("purge_at", EmailJob.purge_at)),
        *(attributes[name].set(db.slot(name, attributes[name])) for name in told),
    ]
    return db.update_shape(
        EmailJob, actions, EmailJob.claim == db.slot("claim", EmailJob.claim), answer=False
    )


class _ClaimLost(Conflict):
    def __init__(self) -> None:
        super().__init__("This delivery's claim on the job was taken over.")


def _release(job: EmailJob, claim: str, error: str, org: Organization | None) -> None:
    """Give the job back to the queue after a failed delivery: queued again, the error kept
    (the email log shows it once the job is dead, R42). Its TTL takes its organization's
    retention now, if the organization was read (R53): the sweep that may bury it reads none."""
    actions = [
        EmailJob.status.set(EmailStatus.QUEUED),
        EmailJob.claim.remove(),
        EmailJob.last_error.set(error),
        EmailJob.updated_at.set(clock.now()),
    ]
    if org is not None:
        actions.append(EmailJob.purge_at.set(outbox.purge_at(job, org)))
    tx = Tx()
    tx.update(job, actions, condition=EmailJob.claim == claim)
    tx.commit()


def process_batch(records: list[Record], sender: Sender) -> Batch:
    """Deliver each record's job; a failure is kept to its own record (R42).

    Deletes the records that ended from the queue (Chalice cannot report partial batch
    failures, DESIGN "Worker"). A record whose job another delivery holds is not deleted: if
    that delivery dies, this message is what brings the job back."""
    batch = Batch(Counter(), [], [])
    done: list[Record] = []
    with metrics.batched():  # one EMF line per kind and reason for the batch (issue #17)
        for record in records:
            try:
                outcome = deliver(record.job_id, sender)
            except Exception as exc:  # one bad job must not fail its batch (R42); SQS retries it
                # The type only: an SES message may quote an address (R48); the job keeps it.
                logs.event("email.delivery_failed", job_id=record.job_id, error=type(exc).__name__)
                batch.failed.append(record)
                continue
            batch.outcomes[outcome] += 1
            (batch.waiting if outcome == "in_flight" else done).append(record)
    if done:
        aws.client("sqs").delete_message_batch(
            QueueUrl=aws.queue_url(config.EMAIL_QUEUE),
            Entries=[{"Id": str(n), "ReceiptHandle": r.receipt_handle} for n, r in enumerate(done)],
        )
    return batch
