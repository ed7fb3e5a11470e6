"""R54: SES's bounces and complaints come back to the email log and stop further sends to that
address, for every practice, until staff clear it (`GET/DELETE …/suppressed-addresses/{email}`).

Events are SES's own JSON (event publishing through a configuration set), delivered as the
deployed function gets them (SNS's envelope in an SQS record) or through the local stage's
`POST /_local/ses-feedback`. Each names its email by the `job_id` tag the worker sends with.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import aws, config
from chalicelib.models.audit import AuditEvent
from chalicelib.services.email import delivery, feedback, suppressions
from chalicelib.services.email.feedback import Event
from tests.support.api import Api, Practice, sign_up_practice
from tests.support.email import RecordingSender
from tests.support.family import add_client
from tests.support.ses import in_sns, ses_event

NOTIFY = "/v1/orgs/{org_id}/clients/{client_id}/notifications"
GOAL = {"kind": "goal_reminder", "data": {"goal_name": "Walk 30 minutes a day"}}


def deliver_from_queue(bodies: list[str]) -> None:
    """The deployed path: the SQS-triggered function, one record a message."""
    records = [
        {
            "messageId": f"m-{n}",
            "receiptHandle": f"rh-{n}",
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:portico-prod-ses-feedback",
            "awsRegion": "us-east-1",
        }
        for n, body in enumerate(bodies)
    ]
    with Client(app) as client:
        client.lambda_.invoke("ses_feedback", {"Records": records})


def notified(api: Api, practice: Practice, client_id: str) -> str:
    path = NOTIFY.format(org_id=practice.id, client_id=client_id)
    answer = api.post(path, GOAL, practice.admin_token)
    assert answer.status == 202, answer.body
    return answer.body["notification"]["emails"][0]["id"]


def drained(api: Api) -> list[dict[str, Any]]:
    assert api.post("/_local/drain").status == 200
    return api.get("/_local/outbox.json").body


def log_of(api: Api, practice: Practice) -> dict[str, tuple[str, str | None]]:
    emails = api.get(f"/v1/orgs/{practice.id}/emails", practice.admin_token).body["emails"]
    return {e["id"]: (e["status"], e["reason"]) for e in emails}


def suppressed_path(practice: Practice, email: str) -> str:
    return f"/v1/orgs/{practice.id}/suppressed-addresses/{email.replace('@', '%40')}"


def test_r54_a_bounce_is_in_the_log_and_stops_every_practices_emails_until_cleared(
    api: Api, practice: Practice
) -> None:
    maya = add_client(api, practice, "Maya", "maya@example.com")
    first = notified(api, practice, maya)
    assert len(drained(api)) == 1
    deliver_from_queue([in_sns(ses_event("Bounce", "maya@example.com", first))])
    assert log_of(api, practice)[first] == ("bounced", "bounced")  # the log shows it

    second = notified(api, practice, maya)
    other = sign_up_practice(api, "evergreen")  # another practice, its client the same address
    there = notified(api, other, add_client(api, other, "Maya", "maya@example.com"))
    assert len(drained(api)) == 1  # nothing more went out
    assert log_of(api, practice)[second] == ("suppressed", "bounced")
    assert log_of(api, other)[there] == ("suppressed", "bounced")

    shown = api.get(suppressed_path(other, "Maya@Example.com"), other.admin_token)
    assert shown.status == 200, shown.body
    assert shown.body["suppressed_address"]["email"] == "maya@example.com"
    assert shown.body["suppressed_address"]["reason"] == "bounced"

    cleared = api.call(
        "DELETE", suppressed_path(practice, "maya@example.com"), None, practice.admin_token
    )
    assert cleared.status == 204
    subject = AuditEvent.subject_for(practice.id, None)
    assert "suppressed_address.cleared" in [e.action for e in AuditEvent.query(subject)]
    assert api.get(suppressed_path(other, "maya@example.com"), other.admin_token).status == 404
    third = notified(api, practice, maya)
    assert [e["job_id"] for e in drained(api)][-1] == third  # sent again


def test_r4_a_practice_unrelated_to_the_address_does_not_see_its_suppression(
    api: Api, practice: Practice
) -> None:
    maya = add_client(api, practice, "Maya", "maya@example.com")
    job = notified(api, practice, maya)
    drained(api)
    deliver_from_queue([in_sns(ses_event("Bounce", "maya@example.com", job))])
    stranger = sign_up_practice(api, "stranger")
    answer = api.get(suppressed_path(stranger, "maya@example.com"), stranger.admin_token)
    assert (answer.status, answer.error_code()) == (404, "address_not_suppressed")
    delete = api.call(
        "DELETE", suppressed_path(stranger, "maya@example.com"), None, stranger.admin_token
    )
    assert delete.status == 404
    assert (
        api.get(suppressed_path(practice, "maya@example.com"), practice.admin_token).status == 200
    )


def test_r54_a_complaint_through_the_local_route_suppresses_as_complained(
    api: Api, practice: Practice
) -> None:
    maya = add_client(api, practice, "Maya", "maya@example.com")
    job = notified(api, practice, maya)
    drained(api)
    answer = api.post("/_local/ses-feedback", ses_event("Complaint", "maya@example.com", job))
    assert answer.body == {"outcome": "complained"}
    assert log_of(api, practice)[job] == ("bounced", "complained")
    later = notified(api, practice, maya)
    drained(api)
    assert log_of(api, practice)[later] == ("suppressed", "complained")


def test_r54_a_transient_bounce_stops_nothing(api: Api, practice: Practice) -> None:
    maya = add_client(api, practice, "Maya", "maya@example.com")
    job = notified(api, practice, maya)
    drained(api)
    event = ses_event("Bounce", "maya@example.com", job, bounce_type="Transient")
    assert api.post("/_local/ses-feedback", event).body == {"outcome": "transient_bounce"}
    assert log_of(api, practice)[job] == ("sent", None)
    assert (
        api.get(suppressed_path(practice, "maya@example.com"), practice.admin_token).status == 404
    )


def test_r29_r54_a_copy_holders_bounced_address_stops_only_the_copy(
    api: Api, practice: Practice
) -> None:
    maya = add_client(api, practice, "Maya", "maya@example.com")
    contact = {
        "first_name": "Ana",
        "last_name": "Chen",
        "email": "ana@example.com",
        "relationship": "parent",
        "notify": True,
    }
    assert (
        api.post(
            f"/v1/orgs/{practice.id}/clients/{maya}/contacts", contact, practice.admin_token
        ).status
        == 201
    )
    api.post("/_local/ses-feedback", ses_event("Bounce", "ana@example.com", None))
    notified(api, practice, maya)
    assert [e["to"] for e in drained(api)] == ["maya@example.com"]
    reasons = set(log_of(api, practice).values())
    assert ("suppressed", "bounced") in reasons


def test_r54_events_other_than_bounces_and_complaints_are_read_and_ignored(
    api: Api, practice: Practice
) -> None:
    assert api.post("/_local/ses-feedback", ses_event("Delivery", "a@example.com", None)).body == {
        "outcome": "ignored"
    }
    assert api.call("POST", "/_local/ses-feedback", raw="not json").body == {
        "outcome": "unreadable"
    }


def test_r54_the_event_table_takes_a_new_type_with_the_job_its_send_was_tagged_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The seam `Send` used (issue #18): a row in HANDLERS gets the job id of the tag
    seen: list[Event] = []

    def delayed(event: Event) -> str:
        seen.append(event)
        return "seen"

    monkeypatch.setitem(feedback.HANDLERS, "DeliveryDelay", delayed)
    job_id = "em_" + "a" * 24
    assert feedback.handle(in_sns(ses_event("DeliveryDelay", "a@example.com", job_id))) == "seen"
    assert [e.job_id for e in seen] == [job_id]
    untagged = feedback.parse(json.dumps(ses_event("Send", "a@example.com", "not-a-job")))
    assert untagged is not None
    assert untagged.job_id is None


def test_r54_each_send_goes_through_the_configuration_set_tagged_with_its_job(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    maya = add_client(api, practice, "Maya", "maya@example.com")
    job = notified(api, practice, maya)
    monkeypatch.setattr(config, "SES_CONFIGURATION_SET", "portico-test-email-events")
    calls: list[dict[str, Any]] = []
    ses, client_of = aws.client("ses"), aws.client

    class Recording:
        def send_email(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return ses.send_email(
                **{k: v for k, v in kwargs.items() if k != "ConfigurationSetName"}
            )

    monkeypatch.setattr(
        delivery.aws, "client", lambda name: Recording() if name == "ses" else client_of(name)
    )
    assert delivery.deliver(job, delivery.SesSender()) == "sent"
    (call,) = calls
    assert call["Tags"] == [{"Name": "job_id", "Value": job}]
    assert call["ConfigurationSetName"] == "portico-test-email-events"


def test_r54_the_worker_checks_the_suppression_with_one_read_by_key(
    api: Api, practice: Practice, dynamo_calls: Any
) -> None:
    # The suppression is read by the normalized address (no Scan) in the one BatchGetItem that
    # reads the practice and the client (issue #17): an email costs its claim, that read and
    # its outcome; a suppressed address stops the next email with no read more.
    maya = add_client(api, practice, "Maya", "maya@example.com")
    job = notified(api, practice, maya)
    dynamo_calls.clear()
    assert delivery.deliver(job, RecordingSender()) == "sent"
    assert dynamo_calls.operations == ["UpdateItem", "BatchGetItem", "UpdateItem"]
    suppressions.mark("Maya@Example.com", suppressions.BOUNCED, None, None)
    job = notified(api, practice, maya)
    dynamo_calls.clear()
    sender = RecordingSender()
    assert delivery.deliver(job, sender) == "suppressed"
    assert sender.sent == []
    # the claim, the read, the practice added to those that see the suppression, the outcome
    assert dynamo_calls.operations == ["UpdateItem", "BatchGetItem", "UpdateItem", "UpdateItem"]


@pytest.mark.parametrize(
    "address",
    ["ana@example.com", "a.b+c_d-e@ex-ample.co.uk", "Ana@Example.com", " ana@example.com "],
)
def test_r54_the_workers_quick_key_of_a_stored_address_is_the_suppressions_own(
    address: str,
) -> None:
    # Issue #17: the worker keys a stored address without the validator; it must name the
    # same suppression as the normalized form, or a bounced address would be mailed again.
    assert suppressions.key_of_stored(address) == suppressions.key_of(address)
