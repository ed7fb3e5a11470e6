"""Helpers for the email tests: a recording sender, queue and SES inspection, a booked visit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import aws, clock, config
from chalicelib.services.email.rendering import Rendered
from tests.support.api import Api, Practice


@dataclass
class RecordingSender:
    """The Sender interface, recording instead of sending; fails for the addresses told to."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)

    def send(
        self, source: str, to: str, reply_to: str | None, message: Rendered, job_id: str
    ) -> str:
        if to in self.fail_for:
            raise ConnectionError("SES did not answer")
        self.sent.append(
            {"source": source, "to": to, "reply_to": reply_to, "message": message, "job_id": job_id}
        )
        return f"msg-{len(self.sent)}"


def ses_sent_count() -> int:
    return int(aws.client("ses").get_send_quota()["SentLast24Hours"])


def queue_depth(name: str = config.EMAIL_QUEUE) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_url(name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def admin_provider_id(api: Api, practice: Practice) -> str:
    return api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"][0][
        "id"
    ]


def add_client(api: Api, practice: Practice, first: str, email: str | None) -> str:
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients",
        # No invite: these tests count the appointment emails alone (invites: test_invites.py).
        {"first_name": first, "last_name": "Client", "email": email, "send_invite": False},
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    return answer.body["client"]["id"]


def book(
    api: Api, practice: Practice, client_ids: list[str], starts_at: datetime | None = None
) -> dict[str, Any]:
    starts_at = starts_at or clock.now() + timedelta(days=3)
    answer = api.post(
        f"/v1/orgs/{practice.id}/appointments",
        {
            "provider_id": admin_provider_id(api, practice),
            "client_ids": client_ids,
            "starts_at": starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "minutes": 50,
            "type": "Initial consultation",
        },
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    return answer.body["appointment"]


def email_log(api: Api, practice: Practice, client_id: str | None = None) -> list[dict]:
    query = f"?client_id={client_id}" if client_id else ""
    answer = api.get(f"/v1/orgs/{practice.id}/emails{query}", practice.admin_token)
    assert answer.status == 200, answer.body
    return answer.body["emails"]


def sqs_event(records: list[Any]) -> dict[str, Any]:
    """An SQS event for the Chalice worker with one record a queue message, each with its own
    messageId (DESIGN "Known traps": Chalice's generate_sqs_event gives them all one)."""
    return {
        "Records": [
            {
                "messageId": r.message_id,
                "receiptHandle": r.receipt_handle,
                "body": r.job_id,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for r in records
        ]
    }
