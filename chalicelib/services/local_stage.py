"""What the local stage adds so a person (and an end-to-end test) can see and drive what AWS
would do: the outbox of sent emails, draining the queue through the worker, ticking triggers.
Every function here refuses to run outside the local stage.

An email job keeps no body (R53), so the outbox shows the local stage's own copy of what its
sender handed SES: `drain` (the only worker `make run` has) sends through `LocalOutboxSender`,
and nothing outside this stage writes a copy."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.endpoint
from botocore.awsrequest import AWSResponse

from chalicelib import aws, clock, config
from chalicelib.errors import NotFound
from chalicelib.models.emails import SENT_DAY_SHARDS, EmailJob, LocalOutboxCopy, sent_day_keys
from chalicelib.services import outbox, triggers
from chalicelib.services.email import delivery, feedback
from chalicelib.services.email.rendering import Rendered

# The API reference page (`make run`'s /_local/api) renders the project's own openapi.yaml with
# the Redoc bundle that `npm ci` installs: nothing comes from another site.
PROJECT = Path(__file__).resolve().parents[2]
API_DOCUMENT = PROJECT / "openapi.yaml"
REDOC_BUNDLE = PROJECT / "node_modules" / "redoc" / "bundles" / "redoc.standalone.js"


def require_local() -> None:
    if not config.is_local():
        raise NotFound("No such page.", code="not_found")


class LocalOutboxSender:
    """Sends through `inner` (SES), then keeps a copy of what it handed over for the outbox page."""

    def __init__(self, inner: delivery.Sender) -> None:
        self.inner = inner

    def send(
        self, source: str, to: str, reply_to: str | None, message: Rendered, job_id: str
    ) -> str:
        require_local()
        message_id = self.inner.send(source, to, reply_to, message, job_id)
        LocalOutboxCopy(
            LocalOutboxCopy.key_for(message_id),
            subject=message.subject,
            html=message.html,
            text=message.text,
            purge_at=clock.now() + timedelta(days=config.LOCAL_OUTBOX_DAYS),
        ).save()
        return message_id


def ses_feedback(message: str) -> str:
    """R54: an SES event handled as the feedback queue's consumer handles it."""
    require_local()
    return feedback.handle(message)


def drain(max_batches: int = 200) -> dict[str, int]:
    """Feed every queued message to the worker, as the SQS trigger would, until the queue is
    empty; failures return to the queue at once and, past the max receives, reach the
    dead-letter queue, which is then buried. A message whose job another delivery holds comes
    back after its visibility timeout, as on AWS."""
    require_local()
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    sender = LocalOutboxSender(delivery.SesSender())
    outcomes: Counter[str] = Counter()
    for _ in range(max_batches):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            break
        records = [delivery.Record(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in messages]
        done, failed, _ = delivery.process_batch(records, sender)
        outcomes.update(done)
        for record in failed:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=0
            )
    dead = outbox.bury_dead_letters()
    return {"sent": outcomes["sent"], "suppressed": outcomes["suppressed"], "dead": dead}


def tick(now: datetime | None = None) -> dict[str, int]:
    """Run every scheduled trigger as if at `now`, then drain what they queued."""
    require_local()
    triggered = triggers.run_all(now)
    drained = drain()
    return {**triggered, **drained, "dead": triggered["dead"] + drained["dead"]}


# The fault switch (issue #18, `make load`): AWS's own errors, answered below the SDK's retries
# (botocore's HTTP layer, as tests/test_faults.py does), for a share of this process's calls.
# DynamoDB throttles any call; SES fails a send; SQS fails a send (never a receive, so the
# worker still drains what did arrive).
_FAULTS = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400, None),
    "ses": ("ServiceUnavailable", 503, {"SendEmail", "SendRawEmail"}),
    "sqs": ("InternalError", 500, {"SendMessage", "SendMessageBatch"}),
}
_fault_rates: dict[str, float] = dict.fromkeys(_FAULTS, 0.0)
_fault_counts: Counter[str] = Counter()
_draw = random.Random()  # noqa: S311 (a fault's chance, not a secret)


def set_faults(dynamodb: float, ses: float, sqs: float) -> dict[str, Any]:
    """Fail this share of each service's calls from now on (0 turns it off); answers the rates
    and how many faults were injected since the stack started."""
    require_local()
    if not hasattr(botocore.endpoint.Endpoint, "_portico_faults"):
        _install_faults()
    _fault_rates.update(dynamodb=dynamodb, ses=ses, sqs=sqs)
    return {"rates": dict(_fault_rates), "injected": dict(_fault_counts)}


def _install_faults() -> None:
    original = botocore.endpoint.Endpoint._do_get_response

    def answer(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
        service = operation_model.service_model.service_name
        fault = _FAULTS.get(service)
        if fault and _draw.random() < _fault_rates[service]:
            code, status, operations = fault
            if operations is None or operation_model.name in operations:
                _fault_counts[service] += 1
                http = AWSResponse(request.url, status, {}, _NoBody())
                parsed = {
                    "Error": {"Code": code, "Message": f"injected {code} (local fault switch)"},
                    "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
                }
                return (http, parsed), None
        return original(self, request, operation_model, context)

    botocore.endpoint.Endpoint._do_get_response = answer
    botocore.endpoint.Endpoint._portico_faults = True


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


@dataclass(frozen=True)
class OutboxEmail:
    job: EmailJob
    copy: LocalOutboxCopy


def sent_emails(days: int = config.LOCAL_OUTBOX_DAYS) -> list[OutboxEmail]:
    """Emails this stage's sender sent in the last `days` UTC days, oldest first (newest last),
    each with the copy it kept."""
    require_local()
    today = clock.now()
    partitions = [
        key
        for back in range(days - 1, -1, -1)
        for key in sent_day_keys((today - timedelta(days=back)).strftime("%Y-%m-%d"))
    ]
    # One Query per shard of each day (issue #18), issued side by side.
    with ThreadPoolExecutor(max_workers=SENT_DAY_SHARDS) as pool:
        found = pool.map(lambda key: list(EmailJob.sent_by_day.query(key)), partitions)
    jobs = sorted((job for shard in found for job in shard), key=_sent_order)
    keys = {LocalOutboxCopy.key_for(job.ses_message_id) for job in jobs if job.ses_message_id}
    copies = {copy.key: copy for copy in LocalOutboxCopy.batch_get(keys)}
    return [
        OutboxEmail(job, copies[LocalOutboxCopy.key_for(job.ses_message_id)])
        for job in jobs
        if job.ses_message_id and LocalOutboxCopy.key_for(job.ses_message_id) in copies
    ]


def _sent_order(job: EmailJob) -> tuple[datetime, str]:
    assert job.sent_at is not None  # in the sparse index only once sent
    return job.sent_at, job.job_id


def api_document() -> str:
    """openapi.yaml as it stands in the work tree (an edit shows at the next reload)."""
    require_local()
    return API_DOCUMENT.read_text(encoding="utf-8")


def redoc_bundle() -> str:
    """Redoc's standalone bundle from node_modules; 404 saying how to install it if missing."""
    require_local()
    try:
        return REDOC_BUNDLE.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(
            "Redoc is not installed here: run `npm ci` (`make run` does).", code="not_found"
        ) from None
