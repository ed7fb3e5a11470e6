"""SES's bounce and complaint events (R54), from the configuration set through SNS to SQS.

Handling an event is idempotent (a suppression set twice is one), so a batch that fails is
simply delivered again; an event that keeps failing ends in the queue's dead-letter queue.
"""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import config
from chalicelib.services.email import feedback

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=config.SES_FEEDBACK_QUEUE, batch_size=10)
def ses_feedback(event: SQSEvent) -> None:
    for record in event:
        feedback.handle(record.body)
