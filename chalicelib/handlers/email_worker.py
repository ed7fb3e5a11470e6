"""The SQS-triggered email worker (R39–R42): a batch of job ids in, emails out.

Succeeded records are deleted by `process_batch`. Where the deployment template turned on
ReportBatchItemFailures (`make package`), the answer names the failed records and only they
return to the queue; elsewhere (`chalice deploy`) raising makes Lambda return the batch, and
since the others are gone only the failures come back (R42). After the queue's max receives a
failing job moves to the dead-letter queue, where the sweep marks it dead.
"""

from __future__ import annotations

from chalice.app import SQSEvent

from chalicelib import config
from chalicelib.services.email import delivery


class BatchPartlyFailed(Exception):
    """Some jobs of the batch failed; their messages return to the queue."""


def email_worker(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    records = [delivery.Record(r.to_dict()["messageId"], r.body, r.receipt_handle) for r in event]
    batch = delivery.process_batch(records, delivery.SesSender())
    # R42: a message whose job another delivery holds returns too, never deleted unsent.
    returned = [*batch.failed, *batch.waiting]
    if returned and not config.EMAIL_WORKER_REPORTS_FAILURES:
        raise BatchPartlyFailed(f"{len(returned)} of {len(records)} jobs failed or wait")
    return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in returned]}
