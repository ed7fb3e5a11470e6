"""SES events as a configuration set's event destination publishes them (R54, issue #18), and
the SQS message body SNS wraps them in."""

from __future__ import annotations

import json
from typing import Any


def ses_event(event_type: str, address: str, job_id: str | None, **body: Any) -> dict[str, Any]:
    """An SES event as a configuration set's event destination publishes it."""
    tags: dict[str, list[str]] = {
        "ses:configuration-set": ["portico-prod-email-events"],
        "ses:source-ip": ["192.0.2.10"],
        "ses:from-domain": ["portico.example"],
        "ses:caller-identity": ["portico-prod-EmailWorkerRole"],
    }
    if job_id:
        tags["job_id"] = [job_id]
    event: dict[str, Any] = {
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-12-01T19:00:00.000Z",
            "source": "Acme via Portico <notifications@portico.example>",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/portico.example",
            "sendingAccountId": "123456789012",
            "messageId": "0100018c2b6f7c1e-5d0c8e7a-aaaa-bbbb-cccc-000000000000-000000",
            "destination": [address],
            "headersTruncated": False,
            "tags": tags,
        },
    }
    if event_type == "Send":
        event["send"] = {}
    elif event_type == "Bounce":
        event["bounce"] = {
            "feedbackId": "0100018c2b6f8d2a-feedback-000000",
            "bounceType": body.get("bounce_type", "Permanent"),
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-12-01T19:00:01.000Z",
            "reportingMTA": "dsn; a8-50.smtp-out.amazonses.com",
        }
    elif event_type == "Complaint":
        event["complaint"] = {
            "feedbackId": "0100018c2b6f9e3b-feedback-000001",
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": "2026-12-01T19:05:00.000Z",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-12-01T19:04:59.000Z",
        }
    return event


def in_sns(event: dict[str, Any]) -> str:
    """The SQS message body SNS delivers (without raw message delivery)."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:portico-prod-ses-feedback",
            "Message": json.dumps(event),
            "Timestamp": "2026-12-01T19:00:02.000Z",
            "SignatureVersion": "1",
        }
    )
