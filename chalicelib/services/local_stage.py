"""What the local stage adds so a person (and an end-to-end test) can see and drive what AWS
would do: the outbox of sent emails, draining the queue through the worker, ticking triggers.
Every function here refuses to run outside the local stage."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from chalicelib import aws, clock, config
from chalicelib.errors import NotFound
from chalicelib.models.emails import EmailJob
from chalicelib.services import outbox, triggers
from chalicelib.services.email import delivery

# The API reference page (`make run`'s /_local/api) renders the project's own openapi.yaml with
# the Redoc bundle that `npm ci` installs: nothing comes from another site.
PROJECT = Path(__file__).resolve().parents[2]
API_DOCUMENT = PROJECT / "openapi.yaml"
REDOC_BUNDLE = PROJECT / "node_modules" / "redoc" / "bundles" / "redoc.standalone.js"


def require_local() -> None:
    if not config.is_local():
        raise NotFound("No such page.", code="not_found")


def drain(max_batches: int = 200) -> dict[str, int]:
    """Feed every queued message to the worker, as the SQS trigger would, until the queue is
    empty; failures return to the queue at once and, past the max receives, reach the
    dead-letter queue, which is then buried."""
    require_local()
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    outcomes: Counter[str] = Counter()
    for _ in range(max_batches):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", [])
        if not messages:
            break
        records = [delivery.Record(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in messages]
        done, failed = delivery.process_batch(records, delivery.SesSender())
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


def sent_emails(days: int = 7) -> list[EmailJob]:
    """Sent emails of the last `days` UTC days, oldest first (newest last)."""
    require_local()
    today = clock.now()
    found: list[EmailJob] = []
    for back in range(days - 1, -1, -1):
        day = (today - timedelta(days=back)).strftime("%Y-%m-%d")
        found += list(EmailJob.sent_by_day.query(day))
    return found


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
