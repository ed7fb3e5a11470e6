"""Faults of AWS, injected where AWS would raise them: every change still ends once, complete or
not at all, and every email is sent once (R39, R41, R42).

Faults are answered from botocore's HTTP layer (`Endpoint._do_get_response`), below the SDK's own
retries, so the code meets them exactly as it would meet DynamoDB's and SES's answers (retried by
the SDK with its backoff, here without the wait). Each test says what it injects and checks.

Already covered elsewhere: TransactionConflict retried and then a 409 (tests/test_transactions.py),
SQS down after the commit and the sweep, a failing SES address in a batch, redelivery, racing
workers and the dead-letter queue (tests/test_email_pipeline.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib import aws, config
from chalicelib.services.email import delivery
from tests.support.api import Api, Practice
from tests.support.email import (
    add_client,
    admin_provider_id,
    email_log,
    queue_depth,
    ses_sent_count,
    sqs_event,
)
from tests.support.invites import invite_path


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def _http(url: str, status: int) -> AWSResponse:
    return AWSResponse(url, status, {}, _NoBody())


# PynamoDB's tables make 1 + max_retry_attempts tries (chalicelib/models/base.py, db.connection).
DYNAMODB_TRIES = 4


@dataclass
class Faults:
    """Answers the next `times` calls of `operation` with an AWS error; counts every try."""

    operation: str = ""
    code: str = ""
    times: int = 0
    status: int = 400
    # A cancelled transaction's reason per item (TransactionCanceledException's answer)
    reasons: list[str] = field(default_factory=list)
    tries: list[str] = field(default_factory=list)

    def inject(
        self,
        operation: str,
        code: str,
        times: int,
        status: int = 400,
        reasons: list[str] | None = None,
    ) -> None:
        self.operation, self.code, self.times, self.status = operation, code, times, status
        self.reasons = reasons or []
        self.tries.clear()

    def clear(self) -> None:
        self.times = 0


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    state = Faults()
    original = botocore.endpoint.Endpoint._do_get_response

    def answer(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
        if operation_model.name == state.operation:
            state.tries.append(operation_model.name)
            if state.times > 0:
                state.times -= 1
                http = _http(request.url, state.status)
                parsed = {
                    "Error": {"Code": state.code, "Message": f"injected {state.code}"},
                    "ResponseMetadata": {"HTTPStatusCode": state.status, "HTTPHeaders": {}},
                }
                if state.reasons:
                    parsed["CancellationReasons"] = [{"Code": code} for code in state.reasons]
                return (http, parsed), None
        return original(self, request, operation_model, context)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_do_get_response", answer)
    # The SDK's backoff, without the wait: the retries are the point, not the sleep.
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0)
    return state


def book(api: Api, practice: Practice, client_ids: list[str]) -> Any:
    return api.post(
        f"/v1/orgs/{practice.id}/appointments",
        {
            "provider_id": admin_provider_id(api, practice),
            "client_ids": client_ids,
            "starts_at": "2099-03-01T10:00:00Z",
            "minutes": 50,
            "type": "Initial consultation",
        },
        practice.admin_token,
    )


def assert_busy(answer: Any) -> None:
    """The contract's answer to a request AWS throttled past the SDK's retries: 429, its
    Retry-After, the error shape (API.md), never Chalice's 500."""
    assert answer.status == 429, answer.body
    assert answer.body["error"]["code"] == "throttled"
    assert int({k.lower(): v for k, v in answer.headers.items()}["retry-after"]) >= 1


def appointments(api: Api, practice: Practice) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/orgs/{practice.id}/appointments", practice.admin_token)
    assert answer.status == 200, answer.body
    return answer.body["appointments"]


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_a_throttled_transaction_is_retried_and_books_and_sends_once(
    api: Api, practice: Practice, faults: Faults, code: str
) -> None:
    # Injected: the booking's TransactWriteItems answered `code` twice, then DynamoDB recovers.
    # Checked: one appointment, one confirmation job per client, one SQS message and one email
    # each: the SDK's retries are invisible to the caller (R34, R39, R41).
    ids = [add_client(api, practice, n, f"{n}@example.com") for n in ("ana", "ben")]
    faults.inject("TransactWriteItems", code, times=2)
    answer = book(api, practice, ids)
    assert answer.status == 201, answer.body
    assert len(faults.tries) == 3
    assert len(appointments(api, practice)) == 1
    assert sorted(e["client_id"] for e in email_log(api, practice)) == sorted(ids)
    assert queue_depth() == 2
    assert api.post("/_local/drain").body == {"sent": 2, "suppressed": 0, "dead": 0}
    assert ses_sent_count() == 2


def test_a_transaction_throttled_past_the_retries_writes_nothing_and_queues_nothing(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: every try of the booking's TransactWriteItems throttled. Checked: the request
    # answers the contract's 429 with Retry-After (the caller knows to try again), no
    # appointment, no job, no message, no email; once DynamoDB recovers the same request books
    # once and sends once (R39, R42).
    client_id = add_client(api, practice, "ana", "ana@example.com")
    faults.inject("TransactWriteItems", "ThrottlingException", times=99)
    failed = book(api, practice, [client_id])
    assert_busy(failed)
    assert len(faults.tries) == DYNAMODB_TRIES
    faults.clear()
    assert appointments(api, practice) == []
    assert email_log(api, practice) == []
    assert queue_depth() == 0
    assert book(api, practice, [client_id]).status == 201
    assert api.post("/_local/drain").body["sent"] == 1
    assert ses_sent_count() == 1


def test_a_transaction_cancelled_for_a_throttled_item_answers_429_and_writes_nothing(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: the booking's TransactWriteItems cancelled because DynamoDB throttled one of
    # its items (reason ThrottlingError; the SDK does not retry a cancellation). Checked: 429,
    # no appointment, no job; after recovery the same request books once
    client_id = add_client(api, practice, "ana", "ana@example.com")
    faults.inject(
        "TransactWriteItems",
        "TransactionCanceledException",
        times=99,
        reasons=["None", "ThrottlingError"],
    )
    assert_busy(book(api, practice, [client_id]))
    faults.clear()
    assert appointments(api, practice) == []
    assert email_log(api, practice) == []
    assert book(api, practice, [client_id]).status == 201


def test_a_single_write_throttled_past_the_retries_changes_nothing(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: every try of a client change's conditional PutItem (a versioned save; a phone
    # number, which no search entry holds, R55) answered ProvisionedThroughputExceededException.
    # Checked: the request answers 429, the client is as it was; after recovery the change
    # lands once (R5: a profile changes only when asked).
    client_id = add_client(api, practice, "ana", "ana@example.com")
    path = f"/v1/orgs/{practice.id}/clients/{client_id}"
    faults.inject("PutItem", "ProvisionedThroughputExceededException", times=99)
    failed = api.patch(path, {"phone": "+1 415 555 0134"}, practice.admin_token)
    assert_busy(failed)
    assert len(faults.tries) == DYNAMODB_TRIES
    faults.clear()
    assert api.get(path, practice.admin_token).body["client"]["phone"] is None
    changed = api.patch(path, {"phone": "+1 415 555 0134"}, practice.admin_token)
    assert changed.status == 200
    assert changed.body["client"]["phone"] == "+1 415 555 0134"


def test_a_read_throttled_past_the_retries_answers_429(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: every try of the client list's Query throttled. Checked: 429 with Retry-After,
    # not a 500; once DynamoDB recovers the same request lists the client
    client_id = add_client(api, practice, "ana", "ana@example.com")
    path = f"/v1/orgs/{practice.id}/clients"
    faults.inject("Query", "ProvisionedThroughputExceededException", times=99)
    assert_busy(api.get(path, practice.admin_token))
    assert len(faults.tries) >= DYNAMODB_TRIES
    faults.clear()
    listed = api.get(path, practice.admin_token)
    assert listed.status == 200
    assert [c["id"] for c in listed.body["clients"]] == [client_id]


PAGE_READS = [("{secret}", "BatchGetItem"), ("/sign-in?org={slug}", "GetItem")]
# What DynamoDB answers every try of the read with, and what the page then says
PAGE_FAILURES = [
    ("ProvisionedThroughputExceededException", 400, 429, "busy right now; try again in a moment"),
    ("InternalServerError", 500, 500, "Something went wrong on our side"),
]


@pytest.mark.parametrize(("path", "read"), PAGE_READS)
@pytest.mark.parametrize(("code", "status", "answered", "said"), PAGE_FAILURES)
def test_a_page_whose_read_fails_past_the_retries_answers_a_page_not_json(
    api: Api,
    practice: Practice,
    faults: Faults,
    path: str,
    read: str,
    code: str,
    status: int,
    answered: int,
    said: str,
) -> None:
    # Injected: every try of the page's DynamoDB read (an invite link's token, the sign-in
    # page's practice) throttled, or failing on DynamoDB's side. Checked: a person's browser
    # gets a page, not the API's JSON: 429 with its Retry-After, or 500; HTML with the pages'
    # headers and no practice's name (nothing was read); once DynamoDB recovers the same page
    # answers as before
    client_id = add_client(api, practice, "ana", "ana@example.com")
    invited = api.post(
        f"/v1/orgs/{practice.id}/clients/{client_id}/invite", {}, practice.admin_token
    )
    assert invited.status == 202, invited.body
    url = path.format(secret=invite_path(practice, client_id), slug=practice.org["slug"])
    faults.inject(read, code, times=99, status=status)
    failed = api.get(url)
    assert failed.status == answered, failed.raw
    headers = {k.lower(): v for k, v in failed.headers.items()}
    if answered == 429:
        assert int(headers["retry-after"]) >= 1
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-store"  # a link's secret in the path: never cached
    page = failed.raw.decode()
    assert said in page
    assert practice.org["name"] not in page
    faults.clear()
    assert api.get(url).status == 200


def test_an_invite_whose_sealing_kms_throttles_answers_429_and_issues_nothing(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: every try of KMS's Encrypt (the invite link's seal, R53) throttled. Checked:
    # 429; no invite job was queued, so the client's only invite is the one sent after
    # recovery (R13, R14)
    client_id = add_client(api, practice, "ana", "ana@example.com")
    path = f"/v1/orgs/{practice.id}/clients/{client_id}/invite"
    faults.inject("Encrypt", "ThrottlingException", times=99)
    assert_busy(api.post(path, {}, practice.admin_token))
    faults.clear()
    assert email_log(api, practice) == []
    assert api.post(path, {}, practice.admin_token).status == 202
    assert [e["kind"] for e in email_log(api, practice)] == ["invite"]


def test_an_aws_failure_that_is_not_throttling_stays_a_server_error(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Only throttling means "try again in a moment": DynamoDB failing its own way (500
    # InternalServerError, past the retries) answers the contract's 500, not a 429
    add_client(api, practice, "ana", "ana@example.com")
    faults.inject("Query", "InternalServerError", times=99, status=500)
    failed = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token)
    assert failed.status == 500, failed.body
    assert failed.body["error"]["code"] == "internal_error"


def test_a_booking_whose_transaction_conflicts_is_retried_and_sends_once(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: TransactionCanceledException (TransactionConflict) on the booking's first two
    # tries, which db.Tx retries itself. Checked: one appointment, one job, one email (R41).
    client_id = add_client(api, practice, "ana", "ana@example.com")
    original = botocore.endpoint.Endpoint._do_get_response
    left = {"n": 2}

    def conflicting(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
        if operation_model.name == "TransactWriteItems" and left["n"] > 0:
            left["n"] -= 1
            faults.tries.append("TransactWriteItems")
            parsed = {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * 9,
                "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
            }
            return (_http(request.url, 400), parsed), None
        return original(self, request, operation_model, context)

    botocore.endpoint.Endpoint._do_get_response = conflicting  # undone by the fixture's patch
    assert book(api, practice, [client_id]).status == 201
    assert len(faults.tries) == 2
    assert len(appointments(api, practice)) == 1
    assert len(email_log(api, practice)) == 1
    assert api.post("/_local/drain").body["sent"] == 1
    assert ses_sent_count() == 1


def _records() -> list[delivery.Record]:
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return [delivery.Record(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in received]


@pytest.mark.parametrize(
    ("code", "status"), [("Throttling", 400), ("MessageRejected", 400), ("ServiceUnavailable", 503)]
)
def test_a_failing_ses_returns_the_job_to_the_queue_and_redelivery_sends_it_once(
    api: Api, practice: Practice, faults: Faults, code: str, status: int
) -> None:
    # Injected: SES SendEmail answers `code` on every try. Checked: the job stays queued with
    # the error, its message returns to the queue (R42); when SES recovers, the redelivered
    # message sends it exactly once, and a third delivery sends nothing (R41).
    client_id = add_client(api, practice, "ana", "ana@example.com")
    assert book(api, practice, [client_id]).status == 201
    faults.inject("SendEmail", code, times=99, status=status)
    outcomes, failed, _ = delivery.process_batch(_records(), delivery.SesSender())
    assert len(failed) == 1
    assert sum(outcomes.values()) == 0
    [job] = email_log(api, practice)
    assert job["status"] == "queued"
    assert queue_depth() == 1  # invisible until its visibility timeout, not lost
    faults.clear()
    record = failed[0]
    assert delivery.process_batch([record], delivery.SesSender())[0]["sent"] == 1
    assert delivery.process_batch([record], delivery.SesSender())[0]["duplicate"] == 1
    assert ses_sent_count() == 1
    assert email_log(api, practice)[0]["status"] == "sent"


def test_a_throttled_outcome_write_after_sending_is_retried_and_not_sent_again(
    api: Api, practice: Practice, faults: Faults
) -> None:
    # Injected: after SES accepted the email, the job's "sent" UpdateItem is throttled twice
    # (the claim UpdateItem before it passes). Checked: the SDK's retries record it; the
    # message is deleted; a redelivery finds the job sent and sends nothing (R41).
    client_id = add_client(api, practice, "ana", "ana@example.com")
    assert book(api, practice, [client_id]).status == 201
    records = _records()

    class ThrottleAfterSend(delivery.SesSender):
        def send(self, *args: Any) -> str:
            message_id = super().send(*args)
            faults.inject("UpdateItem", "ThrottlingException", times=2)
            return message_id

    outcomes, failed, _ = delivery.process_batch(records, ThrottleAfterSend())
    assert (outcomes["sent"], failed) == (1, [])
    assert len(faults.tries) == 3
    assert delivery.process_batch(records, delivery.SesSender())[0]["duplicate"] == 1
    assert ses_sent_count() == 1
    assert queue_depth() == 0


def test_with_batch_failure_reports_on_the_worker_names_only_the_failed_record(
    api: Api, practice: Practice, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Injected: SES refuses one of two emails (MessageRejected), the worker deployed by
    # `make package` (ReportBatchItemFailures on). Checked: the invocation succeeds and names
    # that record alone; the other is sent and deleted; redelivering the failed one sends it
    # once (R41, R42, DESIGN "Known traps").
    from chalice.test import Client  # noqa: PLC0415

    from app import app  # noqa: PLC0415

    ids = [add_client(api, practice, n, f"{n}@example.com") for n in ("ana", "bob")]
    assert book(api, practice, ids).status == 201
    records = _records()
    monkeypatch.setattr(config, "EMAIL_WORKER_REPORTS_FAILURES", True)
    faults.inject("SendEmail", "MessageRejected", times=1)
    event = sqs_event(records)
    with Client(app) as client:
        answer = client.lambda_.invoke("email_worker", event).payload
    [failure] = answer["batchItemFailures"]
    assert failure["itemIdentifier"] in {r.message_id for r in records}
    assert ses_sent_count() == 1
    assert queue_depth() == 1
    [retry] = [r for r in records if r.message_id == failure["itemIdentifier"]]
    assert delivery.process_batch([retry], delivery.SesSender())[0]["sent"] == 1
    assert ses_sent_count() == 2
    assert {e["status"] for e in email_log(api, practice)} == {"sent"}
