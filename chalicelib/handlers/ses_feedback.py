"""SES's bounce and complaint events (R54), from the configuration set through SNS to SQS.

Handling an event is idempotent (a suppression set twice is one), so a batch that fails is
simply delivered again; an event that keeps failing ends in the queue's dead-letter queue.
"""

from __future__ import annotations

from chalice.app import SQSEvent

from chalicelib.services.email import feedback


def ses_feedback(event: SQSEvent) -> None:
    for record in event:
        feedback.handle(record.body)
