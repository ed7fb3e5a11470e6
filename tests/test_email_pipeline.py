"""The outbox and the worker (R39–R43): every job ends sent, suppressed or dead; none is lost
and none is sent twice. Runs against moto's SQS and SES in process, with real queues that have
the dead-letter redrive of the deployment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import botocore.client
import botocore.exceptions
import pytest

from chalicelib import aws, clock, config
from chalicelib.db import Tx
from chalicelib.models.emails import EmailJob
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import local_stage, outbox
from chalicelib.services.email import delivery
from tests.support.api import Api, Practice
from tests.support.email import (
    RecordingSender,
    add_client,
    book,
    email_log,
    queue_depth,
    ses_sent_count,
    sqs_event,
)
from tests.support.records import stored


def test_booking_queues_one_confirmation_per_client_and_the_worker_sends_them(api, practice):
    # R34, R39: the request writes the jobs and queues them; only the worker sends.
    ids = [
        add_client(api, practice, "Ana", "ana@example.com"),
        add_client(api, practice, "Ben", "ben@example.com"),
    ]
    book(api, practice, ids)
    assert ses_sent_count() == 0
    assert queue_depth() == 2
    assert {e["status"] for e in email_log(api, practice)} == {"queued"}
    assert api.post("/_local/drain").body == {"sent": 2, "suppressed": 0, "dead": 0}
    log = email_log(api, practice)
    assert {(e["to"], e["status"]) for e in log} == {
        ("ana@example.com", "sent"),
        ("ben@example.com", "sent"),
    }
    assert ses_sent_count() == 2
    assert queue_depth() == 0


def test_a_lost_queue_message_is_sent_by_the_sweep_exactly_once(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R39, R42: SQS fails after the commit; the request still succeeds, the job stays queued,
    # and the sweep sends it: once, however often it runs.
    client_id = add_client(api, practice, "Ana", "ana@example.com")

    def sqs_down(job_ids: list[str]) -> None:
        raise aws.client("sqs").exceptions.QueueDoesNotExist({"Error": {"Code": "x"}}, "Send")

    with monkeypatch.context() as patch:
        patch.setattr(outbox, "send_to_queue", sqs_down)
        book(api, practice, [client_id])
    assert queue_depth() == 0
    assert [e["status"] for e in email_log(api, practice)] == ["queued"]
    assert outbox.resend_open() == 0  # too young: its own message may still be on the way
    later = (clock.now() + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.post("/_local/tick", {"now": later}).body["sent"] == 1
    assert api.post("/_local/tick", {"now": later}).body["sent"] == 0
    assert ses_sent_count() == 1
    assert [e["status"] for e in email_log(api, practice)] == ["sent"]


def test_a_job_delivered_twice_is_sent_once(api: Api, practice: Practice) -> None:
    # R41: a redelivered message (or one sent again by the sweep) finds the job ended.
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    job_id = email_log(api, practice)[0]["id"]
    outbox.send_to_queue([job_id, job_id])
    assert api.post("/_local/drain").body["sent"] == 1
    assert ses_sent_count() == 1


def test_two_workers_racing_on_one_job_send_once(api: Api, practice: Practice) -> None:
    # R41: while one worker holds the job's claim and is sending, another delivery of the
    # same job (another Lambda, the same moment) neither sends nor waits: it stands down.
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    job_id = email_log(api, practice)[0]["id"]
    outcomes: list[str] = []

    class RacingSender(RecordingSender):
        def send(self, source, to, reply_to, message, job_id_sent):
            outcomes.append(delivery.deliver(job_id, self))  # the rival, mid-send
            return super().send(source, to, reply_to, message, job_id_sent)

    sender = RacingSender()
    outcomes.append(delivery.deliver(job_id, sender))
    assert outcomes == ["in_flight", "sent"]
    assert len(sender.sent) == 1
    assert delivery.deliver(job_id, sender) == "duplicate"


def test_a_worker_that_died_holding_a_claim_is_relieved_after_it_goes_stale(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42: a claim whose worker died is claimed again once stale; the job is not lost.
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    job_id = email_log(api, practice)[0]["id"]
    assert delivery._claim(job_id, "dead-worker", clock.now()).written
    sender = RecordingSender()
    assert delivery.deliver(job_id, sender) == "in_flight"
    later = clock.now() + timedelta(seconds=config.OUTBOX_CLAIM_STALE_SECONDS + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert outbox.resend_open() == 1
    assert delivery.deliver(job_id, sender) == "sent"
    assert len(sender.sent) == 1


def _records(job_ids: list[str]) -> list[delivery.Record]:
    """Receive the messages for these jobs from the real queue: distinct message ids."""
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    outbox.send_to_queue(job_ids)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len({m["MessageId"] for m in received}) == len(job_ids)
    return [delivery.Record(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in received]


def test_one_bad_job_does_not_fail_its_batch(api: Api, practice: Practice) -> None:
    # R42: the others are sent and deleted from the queue; only the failure returns.
    ids = [add_client(api, practice, name, f"{name}@example.com") for name in ("ana", "bob", "cy")]
    for client_id in ids:
        book(api, practice, [client_id])
    jobs = {e["to"]: e["id"] for e in email_log(api, practice)}
    aws.client("sqs").purge_queue(QueueUrl=aws.queue_url(config.EMAIL_QUEUE))
    sender = RecordingSender(fail_for={"bob@example.com"})
    outcomes, failed, _ = delivery.process_batch(_records(list(jobs.values())), sender)
    assert outcomes["sent"] == 2
    assert [r.job_id for r in failed] == [jobs["bob@example.com"]]
    assert queue_depth() == 1  # only bob's message is left, invisible until it is retried
    bob = stored(EmailJob, jobs["bob@example.com"])
    assert bob.status == "queued"
    assert "ConnectionError" in bob.last_error


def test_the_sqs_trigger_raises_only_when_a_job_failed(api: Api, practice: Practice, monkeypatch):
    # R42: through the Chalice handler itself, with distinct message ids per record.
    from chalice.test import Client  # noqa: PLC0415

    from app import app  # noqa: PLC0415

    ids = [add_client(api, practice, name, f"{name}@example.com") for name in ("ana", "bob")]
    book(api, practice, ids)
    jobs = {e["to"]: e["id"] for e in email_log(api, practice)}
    aws.client("sqs").purge_queue(QueueUrl=aws.queue_url(config.EMAIL_QUEUE))
    records = _records(list(jobs.values()))
    event = sqs_event(records)
    monkeypatch.setattr(
        delivery, "SesSender", lambda: RecordingSender(fail_for={"bob@example.com"})
    )
    with Client(app) as client, pytest.raises(Exception, match="1 of 2 jobs failed"):
        client.lambda_.invoke("email_worker", event)
    assert stored(EmailJob, jobs["ana@example.com"]).status == "sent"
    assert stored(EmailJob, jobs["bob@example.com"]).status == "queued"
    assert queue_depth() == 1


def test_a_job_that_keeps_failing_is_dead_lettered_and_logged_dead(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42: after the queue's max receives the job is in the dead-letter queue; the sweep ends
    # it `dead` with its last error, and the log says so. Nothing stays open.
    client_id = add_client(api, practice, "Bob", "bob@example.com")
    book(api, practice, [client_id])
    monkeypatch.setattr(
        delivery, "SesSender", lambda: RecordingSender(fail_for={"bob@example.com"})
    )
    drained = local_stage.drain()
    assert drained == {"sent": 0, "suppressed": 0, "dead": 1}
    [entry] = email_log(api, practice)
    assert entry["status"] == "dead"
    assert f"failed {config.EMAIL_MAX_RECEIVES} deliveries" in entry["reason"]
    assert "ConnectionError" in entry["reason"]
    assert queue_depth() == 0
    assert queue_depth(config.EMAIL_DEAD_LETTER_QUEUE) == 0
    assert list(EmailJob.open_jobs.query("open")) == []


# R43: suppression with a reason ------------------------------------------------------------


def _set_portal(model: Organization | ClientProfile, settings: dict) -> None:
    model.portal_settings = settings  # the settings routes arrive with issue #5
    model.save()


@pytest.mark.parametrize(
    ("reason", "arrange"),
    [
        ("no_email", lambda api, p, cid: None),
        (
            "archived",
            lambda api, p, cid: api.post(
                f"/v1/orgs/{p.id}/clients/{cid}/archive", token=p.admin_token
            ),
        ),
        (
            "login_shut",
            lambda api, p, cid: _set_portal(
                stored(ClientProfile, p.id, cid), {"login_enabled": False}
            ),
        ),
        (
            "feature_off",
            lambda api, p, cid: _set_portal(
                stored(Organization, p.id, "org"), {"features": {"appointments": False}}
            ),
        ),
    ],
)
def test_suppressed_emails_are_recorded_with_their_reason(
    api: Api, practice: Practice, reason, arrange
):
    # R11, R36, R37, R38, R43: not sent, and the log says why.
    email = None if reason == "no_email" else "ana@example.com"
    client_id = add_client(api, practice, "Ana", email)
    book(api, practice, [client_id])
    arrange(api, practice, client_id)
    assert api.post("/_local/drain").body == {"sent": 0, "suppressed": 1, "dead": 0}
    [entry] = email_log(api, practice, client_id)
    assert (entry["status"], entry["reason"]) == ("suppressed", reason)
    assert ses_sent_count() == 0


def test_a_feature_turned_on_for_the_client_overrides_the_organization(api: Api, practice):
    # R35, R36: the most specific setting wins; the client's own "on" beats the org's "off".
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    _set_portal(stored(Organization, practice.id, "org"), {"features": {"appointments": False}})
    _set_portal(stored(ClientProfile, practice.id, client_id), {"features": {"appointments": True}})
    book(api, practice, [client_id])
    assert api.post("/_local/drain").body["sent"] == 1


def test_the_email_log_is_per_organization_and_per_client(api: Api, practice: Practice) -> None:
    # R43, R4: the log lists one organization's jobs; client_id narrows it to one client.
    from tests.support.api import sign_up_practice  # noqa: PLC0415

    other = sign_up_practice(api, "harbor")
    ana = add_client(api, practice, "Ana", "ana@example.com")
    ben = add_client(api, practice, "Ben", "ben@example.com")
    book(api, practice, [ana, ben])
    book(api, other, [add_client(api, other, "Zed", "zed@example.com")])
    assert {e["to"] for e in email_log(api, practice)} == {"ana@example.com", "ben@example.com"}
    assert [e["to"] for e in email_log(api, practice, ana)] == ["ana@example.com"]
    assert email_log(api, practice, "cl_" + "0" * 24) == []


# R42: the worker never keeps a claim it failed under, nor deletes a message it did not end ----


def _queued_failing_job(
    api: Api, practice: Practice, failure: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A job whose every delivery fails after the claim, the way `failure` says."""
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    if failure == "render":  # a context its template cannot render (a template changed since)
        tx = Tx()
        job = outbox.queue(
            tx, org_id=practice.id, kind="appointment_confirmation", client_id=client_id, context={}
        )
        tx.commit()
        return job.job_id
    if failure == "unknown_kind":  # queued by a newer deploy than this worker's
        tx = Tx()
        job = outbox.queue(tx, org_id=practice.id, kind="receipt", client_id=client_id, context={})
        tx.commit()
        return job.job_id
    # "dynamodb": the worker's read of the client's profile (with its practice, one
    # BatchGetItem) fails (DynamoDB's own error, from botocore); nothing else the sweeps read
    # is touched.
    book(api, practice, [client_id])
    profiles = config.table("profiles")
    make_call = botocore.client.BaseClient._make_api_call

    def failing(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "BatchGetItem" and profiles in params.get("RequestItems", {}):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation
            )
        return make_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    return email_log(api, practice)[0]["id"]


def _failing_job(
    api: Api, practice: Practice, failure: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A queued job whose every delivery fails after the claim, the way `failure` says; the
    message its commit queued is purged, so each test sends the ones it means."""
    job_id = _queued_failing_job(api, practice, failure, monkeypatch)
    aws.client("sqs").purge_queue(QueueUrl=aws.queue_url(config.EMAIL_QUEUE))
    return job_id


ERRORS = {"render": "UndefinedError", "unknown_kind": "KeyError", "dynamodb": "ClientError"}


@pytest.mark.parametrize("failure", sorted(ERRORS))
def test_r42_a_failure_after_the_claim_releases_it_and_repeated_cycles_end_the_job_dead(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    # R42: whatever fails once the job is claimed (its rendering, a DynamoDB read, a kind this
    # worker does not know), the job goes back to `queued` with the error, not `sending` for
    # ever; the review's seven cycles of worker and sweeps then end it `dead` through the
    # dead-letter queue, its error in the log.
    job_id = _failing_job(api, practice, failure, monkeypatch)
    batch = delivery.process_batch(_records([job_id]), RecordingSender())
    assert [r.job_id for r in batch.failed] == [job_id]
    job = stored(EmailJob, job_id)
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.claim is None
    assert ERRORS[failure] in (job.last_error or "")
    dead = 0
    for cycle in range(1, 8):
        later = clock.now() + timedelta(minutes=6 * cycle)
        dead += api.post("/_local/tick", {"now": later.strftime("%Y-%m-%dT%H:%M:%SZ")}).body["dead"]
    assert dead == 1  # buried from the dead-letter queue, once
    job = stored(EmailJob, job_id)
    assert (job.status, job.attempts) == ("dead", config.EMAIL_MAX_RECEIVES)
    assert job.reason is not None
    assert ERRORS[failure] in job.reason
    assert ses_sent_count() == 0
    assert queue_depth(config.EMAIL_DEAD_LETTER_QUEUE) == 0
    assert list(EmailJob.open_jobs.query("open")) == []
    # The first message, back after its visibility timeout, finds the job ended.
    [first] = batch.failed
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first.receipt_handle, VisibilityTimeout=0
    )
    [back] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    record = delivery.Record(back["MessageId"], back["Body"], back["ReceiptHandle"])
    assert delivery.process_batch([record], RecordingSender()).outcomes == {"duplicate": 1}
    assert queue_depth() == 0


def _queued_job(api: Api, practice: Practice) -> str:
    """An appointment confirmation's job, its commit's own message purged."""
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    aws.client("sqs").purge_queue(QueueUrl=aws.queue_url(config.EMAIL_QUEUE))
    return email_log(api, practice)[0]["id"]


def test_r42_a_message_whose_job_another_delivery_holds_is_kept_not_deleted(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42: a delivery that meets another's fresh claim leaves the message on the queue: if
    # that worker dies, this message is what brings the job back once the claim is stale.
    job_id = _queued_job(api, practice)
    delivery._claim(job_id, "a-worker-that-dies", clock.now())
    [record] = _records([job_id])
    sender = RecordingSender()
    batch = delivery.process_batch([record], sender)
    assert (batch.outcomes["in_flight"], batch.waiting, batch.failed) == (1, [record], [])
    assert queue_depth() == 1
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=0
    )
    later = clock.now() + timedelta(seconds=config.OUTBOX_CLAIM_STALE_SECONDS + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    [again] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    returned = delivery.Record(again["MessageId"], again["Body"], again["ReceiptHandle"])
    assert delivery.process_batch([returned], sender).outcomes["sent"] == 1
    assert len(sender.sent) == 1
    assert queue_depth() == 0


def test_r42_the_sqs_trigger_returns_a_waiting_message_to_the_queue(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42, through the Chalice handler with batch failure reports on: the waiting record is
    # named, so Lambda does not delete it.
    from chalice.test import Client  # noqa: PLC0415

    from app import app  # noqa: PLC0415

    job_id = _queued_job(api, practice)
    delivery._claim(job_id, "another-worker", clock.now())
    records = _records([job_id])
    monkeypatch.setattr(config, "EMAIL_WORKER_REPORTS_FAILURES", True)
    with Client(app) as client:
        answer = client.lambda_.invoke("email_worker", sqs_event(records)).payload
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[0].message_id}]}
    assert queue_depth() == 1


def test_r42_a_job_past_the_attempt_limit_is_dead_lettered_whichever_message_brings_it(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42: the sweep's resends each start SQS's receive count afresh, so the queue's redrive
    # alone never buries a job they keep resending. The job counts its own deliveries: past
    # the limit, the next message goes to the dead-letter queue untried, and the sweep ends
    # the job `dead` with its error.
    job_id = _failing_job(api, practice, "render", monkeypatch)
    for _ in range(config.EMAIL_MAX_RECEIVES):
        batch = delivery.process_batch(_records([job_id]), RecordingSender())
        assert len(batch.failed) == 1  # each a fresh message, as the sweep sends one
    batch = delivery.process_batch(_records([job_id]), RecordingSender())
    assert (batch.outcomes["dead_lettered"], batch.failed, batch.waiting) == (1, [], [])
    assert queue_depth(config.EMAIL_DEAD_LETTER_QUEUE) == 1
    assert stored(EmailJob, job_id).attempts == config.EMAIL_MAX_RECEIVES  # not tried again
    assert outbox.bury_dead_letters() == 1
    [entry] = email_log(api, practice)
    assert entry["status"] == "dead"
    assert f"failed {config.EMAIL_MAX_RECEIVES} deliveries: UndefinedError" in entry["reason"]
    assert list(EmailJob.open_jobs.query("open")) == []


def _dynamodb_checks_key_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer a key over 2048 bytes as DynamoDB does (ValidationException); moto reads it."""
    make_call = botocore.client.BaseClient._make_api_call

    def checking(self: Any, operation: str, params: dict[str, Any]) -> Any:
        values = [v.get("S", "") for v in params.get("Key", {}).values()]
        if any(len(value.encode()) > 2048 for value in values):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ValidationException", "Message": "key too large"}}, operation
            )
        return make_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", checking)


def test_r42_a_dead_letter_that_names_no_job_does_not_stop_the_sweep(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42: bodies that are not a job's id (over-long for a DynamoDB key, JSON, an id of
    # nothing) are dropped; the real job behind them is still buried, and the queue is empty.
    job_id = _failing_job(api, practice, "render", monkeypatch)
    _dynamodb_checks_key_sizes(monkeypatch)
    sqs = aws.client("sqs")
    dead_url = aws.queue_url(config.EMAIL_DEAD_LETTER_QUEUE)
    for body in ("x" * 3000, '{"job_id": 1}', "em_" + "0" * 24, job_id):
        sqs.send_message(QueueUrl=dead_url, MessageBody=body)
    assert outbox.bury_dead_letters() == 1
    assert stored(EmailJob, job_id).status == "dead"
    assert queue_depth(config.EMAIL_DEAD_LETTER_QUEUE) == 0


def test_r42_a_queue_message_that_names_no_job_is_dropped_without_a_read(
    api: Api, dynamo_calls
) -> None:
    # R42: an over-long or foreign body is not a job: deleted at once, never retried into the
    # dead-letter queue, and never sent to DynamoDB as a key.
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    sqs.send_message(QueueUrl=url, MessageBody="x" * 3000)
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    dynamo_calls.clear()
    record = delivery.Record(message["MessageId"], message["Body"], message["ReceiptHandle"])
    batch = delivery.process_batch([record], RecordingSender())
    assert (batch.outcomes["unknown"], batch.failed) == (1, [])
    assert dynamo_calls.operations == []
    assert queue_depth() == 0
