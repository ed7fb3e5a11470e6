"""The outbox (R39, R42): email jobs are written with the change that causes them, then sent
to SQS. Nothing between the two can lose a job: a sweep sends again what is still open, and
buries what the queue gave up on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws, clock, config, db, ids, logs, metrics
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import OPEN, EmailJob, EmailStatus

# The partition of jobs asked for by an address before anyone knows whose it is (a reset or a
# passcode asked for on a public form, R51): no organization's email log lists it. The worker
# files the job under the login's organization once it found one.
UNADDRESSED_ORG = "platform"


def queue_asked(tx: Tx, kind: str, email: str, context: dict[str, Any]) -> EmailJob:
    """R51: the job of an email that a public form asks for about an address (a reset, a
    passcode), the same for every address: the worker finds the login and sends it, filed
    under the login's organization, or suppresses it when there is nothing to send. Nothing
    on the request path depends on whether the address has a login."""
    return queue(
        tx, org_id=UNADDRESSED_ORG, kind=kind, to=email, context={**context, "asked": True}
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
) -> EmailJob:
    """Add an email job to `tx`: it exists exactly when the change that causes it does, and
    goes to the queue, with the change's other jobs, once the change is committed."""
    moment = clock.now()
    job = EmailJob(
        ids.new_id("em"),
        org_id=org_id,
        kind=kind,
        client_id=client_id,
        identity_id=identity_id,
        to=to,
        context=context,
        created_at=moment,
        updated_at=moment,
        org_client=f"{org_id}#{client_id}" if client_id else None,
        open_shard=OPEN,
    )
    tx.save(job, condition=EmailJob.job_id.does_not_exist())
    tx.after_commit("outbox", dispatch, job)  # to the queue once the change is committed
    return job


def dispatch(jobs: Iterable[EmailJob]) -> None:
    """Send committed jobs to the queue. A failure here loses nothing: the jobs stay queued
    and the sweep sends them (R42), so the request that made them still succeeds."""
    job_ids = [job.job_id for job in jobs]
    try:
        send_to_queue(job_ids)
    except (BotoCoreError, ClientError) as exc:
        logs.event("outbox.dispatch_failed", jobs=len(job_ids), error=type(exc).__name__)


def send_to_queue(job_ids: list[str]) -> None:
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
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


def resend_open(now: datetime | None = None) -> int:
    """Send again the jobs still open a while after they were written (the outbox sweep).

    A queued job whose message was never sent or was lost, or a job whose worker died holding
    its claim, is put back on the queue; the worker's claim keeps a job sent once (R41)."""
    now = now or clock.now()
    older_than = now - timedelta(seconds=config.OUTBOX_RESEND_AFTER_SECONDS)
    stale = [
        job.job_id for job in EmailJob.open_jobs.query(OPEN, EmailJob.created_at <= older_than)
    ]
    if stale:
        send_to_queue(stale)
        logs.event("outbox.resent", jobs=len(stale))
    return len(stale)


def bury_dead_letters(max_batches: int = 50) -> int:
    """Jobs the queue gave up on (R42) end `dead`, with their last error, and leave the DLQ."""
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_DEAD_LETTER_QUEUE)
    buried = 0
    for _ in range(max_batches):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            buried += mark_dead(message["Body"])
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ],
        )
    return buried


def mark_dead(job_id: str) -> int:
    job = db.get(EmailJob, job_id)
    if job is None or job.status not in {EmailStatus.QUEUED, EmailStatus.SENDING}:
        return 0
    tx = Tx()
    tx.update(
        job,
        [
            EmailJob.status.set(EmailStatus.DEAD),
            EmailJob.reason.set(f"failed {job.attempts} deliveries: {job.last_error or 'unknown'}"),
            EmailJob.open_shard.remove(),
            EmailJob.claim.remove(),
            EmailJob.updated_at.set(clock.now()),
        ],
        condition=EmailJob.status.is_in(EmailStatus.QUEUED, EmailStatus.SENDING),
        on_conflict=_AlreadyEnded,
    )
    try:
        tx.commit()
    except _AlreadyEnded:
        return 0
    logs.event("email.dead", job_id=job_id, org_id=job.org_id)
    metrics.count("EmailsDead")
    return 1


class _AlreadyEnded(Conflict):
    """The job ended (sent, suppressed) between our read and our write."""

    def __init__(self) -> None:
        super().__init__("This email job has ended already.")
