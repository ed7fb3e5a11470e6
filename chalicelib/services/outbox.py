"""The outbox (R39, R42): email jobs are written with the change that causes them, then sent
to SQS. Nothing between the two can lose a job: a sweep sends again what is still open, and
buries what the queue gave up on.

R53: a job holds its link or code only sealed (chalicelib/sealing.py), never in its context, and
expires by TTL after its organization's retention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.expressions.condition import Condition

from chalicelib import aws, clock, config, db, ids, logs, metrics
from chalicelib.db import ErrorFactory, Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import OPEN, EmailJob, EmailStatus
from chalicelib.models.orgs import Organization
from chalicelib.rules.email_kinds import KINDS
from chalicelib.rules.settings import DEFAULT_SETTINGS, org_settings
from chalicelib.sealing import Sealed
from chalicelib.services import checkpoints
from chalicelib.services.checkpoints import Budget

# A job's id (`queue`), or a copy's: its parent's id and the copy holder's (services/email/copies).
JOB_ID = re.compile(r"^em_[0-9a-f]{24}(?:\.[a-z]+_[0-9a-f]{24})?$")


def is_job_id(value: str) -> bool:
    """Whether a queue message's body can name a job (R42: anything else is dropped, not tried)."""
    return bool(JOB_ID.match(value))


_DEFAULT_RETENTION_DAYS: int = DEFAULT_SETTINGS["email_retention_days"]


def purge_at(job: EmailJob, org: Organization | None) -> datetime:
    """R53: when DynamoDB deletes the job: its organization's retention after it was written."""
    days = org_settings(org)["email_retention_days"] if org else _DEFAULT_RETENTION_DAYS
    return job.created_at + timedelta(days=days)


# The partition of jobs asked for by an address before anyone knows whose it is (a reset or a
# passcode asked for on a public form, R51): no organization's email log lists it. The worker
# files the job under the login's organization once it found one.
UNADDRESSED_ORG = "platform"


def queue_asked(tx: Tx, kind: str, email: str, context: dict[str, Any], secret: Sealed) -> EmailJob:
    """R51: the job of an email that a public form asks for about an address (a reset, a
    passcode), the same for every address: the worker finds the login and sends it, filed
    under the login's organization, or suppresses it when there is nothing to send. Nothing
    on the request path depends on whether the address has a login."""
    return queue(
        tx,
        org_id=UNADDRESSED_ORG,
        kind=kind,
        to=email,
        context={**context, "asked": True},
        secret=secret,
    )


def queue(
    tx: Tx,
    *,
    org_id: str,
    kind: str,
    context: dict[str, Any],
    client_id: str | None = None,
    identity_id: str | None = None,
    to: str | None = None,
    secret: Sealed | None = None,
) -> EmailJob:
    """Add an email job to `tx`: it exists exactly when the change that causes it does, and
    goes to the queue, with the change's other jobs, once the change is committed.

    A kind that carries a link or code gets it as `secret`, sealed (R53); the context names
    only the token's hash, which the worker checks is still live (R43)."""
    sealed = KINDS[kind].sealed if kind in KINDS else None
    if sealed is not None and (secret is None or sealed in context):
        raise ValueError(f"{kind}: its {sealed} goes sealed as `secret`, never in its context")
    if secret is not None:
        context = {**context, "token_hash": secret.token_hash}
    job = new_job(
        tx,
        org_id=org_id,
        kind=kind,
        client_id=client_id,
        identity_id=identity_id,
        to=to,
        context=context,
        sealed_secret=secret.ciphertext if secret else None,
        open_shard=OPEN,
    )
    tx.after_commit("outbox", dispatch, job)  # to the queue once the change is committed
    return job


def new_job(
    tx: Tx,
    *,
    org_id: str,
    kind: str,
    client_id: str | None,
    job_id: str | None = None,
    on_conflict: ErrorFactory | None = None,
    **fields: Any,
) -> EmailJob:
    """A new email job saved in `tx`: its id, times, the client index's key and the default
    expiry (R53), written the one way for queued, suppressed and copied jobs alike. A copy
    names its own id (R29: one per holder, so a redelivery writes none twice)."""
    moment = clock.now()
    job = EmailJob(
        job_id or ids.new_id("em"),
        org_id=org_id,
        kind=kind,
        client_id=client_id,
        created_at=moment,
        updated_at=moment,
        org_client=f"{org_id}#{client_id}" if client_id else None,
        **fields,
    )
    job.purge_at = purge_at(job, None)  # the default; the worker sets the organization's (R53)
    tx.save(job, condition=EmailJob.job_id.does_not_exist(), on_conflict=on_conflict)
    return job


def dispatch(jobs: Iterable[EmailJob]) -> None:
    """Send committed jobs to the queue. A failure here loses nothing: the jobs stay queued
    and the sweep sends them (R42), so the request that made them still succeeds."""
    job_ids = [job.job_id for job in jobs]
    try:
        send_to_queue(job_ids)
    except (BotoCoreError, ClientError) as exc:
        logs.event("outbox.dispatch_failed", jobs=len(job_ids), error=type(exc).__name__)


def send_to_queue(job_ids: list[str], queue_name: str = config.EMAIL_QUEUE) -> None:
    sqs, url = aws.client("sqs"), aws.queue_url(queue_name)
    for start in range(0, len(job_ids), 10):
        chunk = job_ids[start : start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": job_id} for n, job_id in enumerate(chunk)],
        )
        if answer.get("Failed"):
            raise ClientError(
                {"Error": {"Code": "BatchEntryFailed", "Message": str(len(answer["Failed"]))}},
                "SendMessageBatch",
            )


def send_to_dead_letters(job_ids: list[str]) -> None:
    """R42: jobs that failed every delivery, for the dead-letter sweep to bury."""
    send_to_queue(job_ids, config.EMAIL_DEAD_LETTER_QUEUE)


# The outbox sweep reads this many open jobs a page (keys only: a page is well under 1 MB).
SWEEP_PAGE = 1000
SWEEP_TRIGGER = "outbox_sweep"


def resend_open(now: datetime | None = None, budget: Budget | None = None) -> int:
    """Send again the jobs still open a while after they were written (the outbox sweep).

    A queued job whose message was never sent or was lost, or a job whose worker died holding
    its claim, is put back on the queue; the worker's claim keeps a job sent once (R41).

    A page at a time while the budget lasts, from where the last run stopped: a backlog of
    100,000 open jobs drains across runs rather than timing out in one (issue #18). A pass
    that reached the end starts the next run from the top again."""
    older_than = (now or clock.now()) - timedelta(seconds=config.OUTBOX_RESEND_AFTER_SECONDS)

    def read_page(start: checkpoints.Key | None) -> tuple[list[str], checkpoints.Key | None]:
        page = EmailJob.open_jobs.query(
            OPEN, EmailJob.created_at <= older_than, limit=SWEEP_PAGE, last_evaluated_key=start
        )
        return [job.job_id for job in page], page.last_evaluated_key

    def resend(stale: list[str]) -> int:
        if stale:
            send_to_queue(stale)
            logs.event("outbox.resent", jobs=len(stale))
        return len(stale)

    return checkpoints.sweep(SWEEP_TRIGGER, read_page, resend, budget or Budget())


def record_suppressed(
    tx: Tx,
    *,
    org_id: str,
    kind: str,
    reason: str,
    client_id: str | None = None,
    to: str | None = None,
    context: dict[str, Any] | None = None,
) -> EmailJob:
    """R43: an email that is not sent, recorded in the email log with its reason, in the
    change that decided it: it never reaches the queue (nothing of it could go out, so it
    carries no link or code). A scheduled email whose moment passed while the schedule was
    stopped ends so, `missed` (issue #18), instead of going out late."""
    job = new_job(
        tx,
        org_id=org_id,
        kind=kind,
        client_id=client_id,
        to=to,
        context=context or {},
        status=EmailStatus.SUPPRESSED,
        reason=reason,
    )
    tx.after_commit("outbox.suppressed", _count_suppressed, job)
    return job


def _count_suppressed(jobs: Iterable[EmailJob]) -> None:
    for job in jobs:
        logs.event("email.suppressed", job_id=job.job_id, org_id=job.org_id, reason=job.reason)
        metrics.count("EmailsSuppressed", reason=job.reason or "")
        if job.reason == checkpoints.MISSED:  # the schedule was stopped: someone must know
            metrics.count("ScheduledEmailsMissed")


def bury_dead_letters(max_batches: int = 50, budget: Budget | None = None) -> int:
    """Jobs the queue gave up on (R42) end `dead`, with their last error, and leave the DLQ.

    One message never stops the sweep: a body that names no job is dropped, and a message whose
    burial fails (DynamoDB's error) or whose job a worker holds right now stays for the next."""
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_DEAD_LETTER_QUEUE)
    buried = 0
    budget = budget or Budget()
    for _ in range(max_batches):
        if not budget.left():
            break  # the queue is the cursor: what is left waits for the next run
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        budget.spend()
        done = []
        for message in messages:
            try:
                outcome = _bury(message["Body"])
            except Exception as exc:  # the others are still buried (R42); this one comes back
                logs.event(
                    "email.bury_failed", message_id=message["MessageId"], error=type(exc).__name__
                )
                continue
            if outcome == Burial.UNREADABLE:
                logs.event("email.dead_letter_unreadable", message_id=message["MessageId"])
            if outcome != Burial.HELD:
                done.append(message)
            if outcome == Burial.DEAD:
                buried += 1
        if done:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)
                ],
            )
    return buried


class Burial(StrEnum):
    """What the dead-letter sweep made of one message."""

    DEAD = "dead"  # the job ended dead
    ENDED = "ended"  # it had ended already (or is gone): nothing to do
    HELD = "held"  # a worker holds it (or it ended this instant): the message stays for later
    UNREADABLE = "unreadable"  # the body names no job


def _bury(body: str) -> Burial:
    if not is_job_id(body):
        return Burial.UNREADABLE
    job = db.get(EmailJob, body)
    if job is None or job.status not in {EmailStatus.QUEUED, EmailStatus.SENDING}:
        return Burial.ENDED
    if _end_dead(job):
        return Burial.DEAD
    return Burial.HELD


def _end_dead(job: EmailJob) -> bool:
    """R42: the job failed its deliveries: `dead` with its last error, its sealed secret gone
    (R53; its TTL is the one its last release set). Never under a worker's fresh claim (it may
    be sending right now); False then, or if it ended meanwhile."""
    now = clock.now()
    tx = Tx()
    tx.update(
        job,
        [
            EmailJob.status.set(EmailStatus.DEAD),
            EmailJob.reason.set(f"failed {job.attempts} deliveries: {job.last_error or 'unknown'}"),
            EmailJob.open_shard.remove(),
            EmailJob.claim.remove(),
            EmailJob.sealed_secret.remove(),
            EmailJob.updated_at.set(now),
        ],
        condition=claimable(now),
        on_conflict=_AlreadyEnded,
    )
    try:
        tx.commit()
    except _AlreadyEnded:
        return False
    logs.event("email.dead", job_id=job.job_id, org_id=job.org_id)
    metrics.count("EmailsDead")
    return True


def claimable(now: datetime) -> Condition:
    """A job a delivery may take: queued, or sending under a claim gone stale (its worker died)."""
    return claimable_if_claimed_before(stale_claims_before(now))


def stale_claims_before(now: datetime) -> datetime:
    """A claim taken before this has gone stale: its worker died (or lost the job)."""
    return now - timedelta(seconds=config.OUTBOX_CLAIM_STALE_SECONDS)


def claimable_if_claimed_before(stale: datetime) -> Condition:
    """`claimable` at a cutoff `stale_claims_before` gave (or a `db.slot` for it)."""
    return (EmailJob.status == EmailStatus.QUEUED) | (
        (EmailJob.status == EmailStatus.SENDING) & (EmailJob.claimed_at <= stale)
    )


class _AlreadyEnded(Conflict):
    """The job ended (sent, suppressed), or a worker claimed it, between our read and our write."""

    def __init__(self) -> None:
        super().__init__("This email job has ended already.")
