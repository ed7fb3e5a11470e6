"""Observability (issue #16, README "Observability"): log lines an operator can follow, metrics
an alarm can watch.

Every event line is formatted by Powertools for AWS Lambda's formatter with the invocation's
request ids and cold-start flag, and still carries ids only (R48). Sent and suppressed emails,
dead jobs, failed sign-ins and throttles are counted as CloudWatch embedded-format metrics
(EMF lines on stdout).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from chalice.test import Client

from app import app
from chalicelib import aws, config, logs
from chalicelib.services import outbox
from tests.support.api import Api, Practice, login
from tests.support.email import add_client, book, email_log, sqs_event

# What a line may hold beside the event: Powertools' own keys and the invocation's ids.
LINE_KEYS = {"level", "message", "timestamp", "service", *logs.INVOCATION_KEYS}
# An id (a short prefix and hex) or a word of the product's (a source, a kind, a reason).
ID_OR_WORD = re.compile(r"^([a-z]{2,4}_[0-9a-f]{24}|[a-z_]+)$")


@pytest.fixture
def lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The event lines as a deployed function writes them (logs.FORMATTER), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.FORMATTER)
    logger = logging.getLogger("portico_events")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def _metrics(out: str) -> list[dict[str, Any]]:
    """The EMF documents printed, as {name, value, dimensions} each."""
    found = []
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == config.METRICS_NAMESPACE
        [names] = directive["Dimensions"]
        for metric in directive["Metrics"]:
            found.append(
                {
                    "name": metric["Name"],
                    "unit": metric["Unit"],
                    "value": document[metric["Name"]],
                    "dimensions": {name: document[name] for name in names},
                }
            )
    return found


def _named(out: str, name: str) -> list[dict[str, Any]]:
    return [m for m in _metrics(out) if m["name"] == name]


def test_each_line_carries_its_request_id_and_the_cold_start_and_ids_only(
    api: Api,
    practice: Practice,
    lines: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue #16, R48: the first invocation of a process is the cold start, each its own id
    monkeypatch.setattr(logs, "_cold", True)
    client_id = add_client(api, practice, "Zelda", "zelda@example.com")
    assert login(api, practice.admin_email).status == 200
    logs.event("outside.an_invocation")
    created, signed_in, outside = lines()
    assert created["message"] == {
        "event": "client.created",
        **{k: v for k, v in created["message"].items() if k != "event"},
    }
    assert created["message"]["client_id"] == client_id
    assert (created["cold_start"], signed_in["cold_start"]) == (True, False)
    assert created["function_request_id"] != signed_in["function_request_id"]
    assert created["service"] == config.SERVICE
    assert created["level"] == "INFO"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", created["timestamp"])
    assert "function_request_id" not in outside  # the keys end with their invocation
    for line in (created, signed_in):
        assert set(line) <= LINE_KEYS, line
        values = [v for k, v in line["message"].items() if k != "event"]
        assert all(isinstance(v, int) or ID_OR_WORD.match(v) for v in values), line["message"]
    text = json.dumps(lines())
    for secret in ("Zelda", "zelda@example.com", practice.admin_email, practice.admin_token):
        assert secret not in text


def test_an_api_request_line_carries_api_gateways_request_id(
    lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # The access log's requestId (deploy_template.ACCESS_LOG_FORMAT) finds the event lines
    class Context:
        aws_request_id = "c0ffee00-0000-4000-8000-000000000001"

    class Event:  # Chalice's Request: API Gateway's context and the Lambda context apart
        context: ClassVar[dict[str, str]] = {"requestId": "api-request-1"}
        lambda_context = Context()

    logs.invoked(Event(), lambda: logs.event("identity.signed_in", identity_id="id_1"))
    [line] = lines()
    assert line["api_request_id"] == "api-request-1"
    assert line["function_request_id"] == Context.aws_request_id


def test_lines_of_invocations_on_two_threads_carry_each_its_own_request_id(
    lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # R48, issue #16: `chalice local` answers requests on several threads at once (one process,
    # one formatter); a line must name the invocation that logged it, not the last one to start
    both_started = threading.Barrier(2)

    def invocation(request_id: str) -> None:
        class Context:
            aws_request_id = request_id

        class Event:  # an SQS or scheduled event: the Lambda context alone
            context = Context()

        def work() -> None:
            both_started.wait(timeout=5)  # each has set its keys before either logs
            logs.event("identity.signed_in", identity_id="id_" + request_id[-1])
            both_started.wait(timeout=5)  # neither ends (removing its keys) before both logged

        logs.invoked(Event(), work)

    threads = [threading.Thread(target=invocation, args=(f"request-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    found = {line["message"]["identity_id"]: line["function_request_id"] for line in lines()}
    assert found == {"id_1": "request-1", "id_2": "request-2"}


def _worker_output(api: Api, practice: Practice, capsys: pytest.CaptureFixture[str]) -> str:
    """What the SQS handler prints delivering the practice's queued jobs in one batch."""
    jobs = email_log(api, practice)
    aws.client("sqs").purge_queue(QueueUrl=aws.queue_url(config.EMAIL_QUEUE))
    capsys.readouterr()
    records = [
        type("R", (), {"message_id": f"m{n}", "receipt_handle": f"h{n}", "job_id": job["id"]})()
        for n, job in enumerate(jobs)
    ]
    with Client(app) as client:
        client.lambda_.invoke("email_worker", sqs_event(records))
    return capsys.readouterr().out


def test_the_worker_counts_sent_and_suppressed_emails_in_emf(
    api: Api,
    practice: Practice,
    lines: Callable[[], list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # R41, R43: one EmailsSent per email by kind, one EmailsSuppressed by reason; through the
    # SQS handler itself, its lines with the invocation's request id
    with_email = add_client(api, practice, "Ana", "ana@example.com")
    without = add_client(api, practice, "Bo", None)
    book(api, practice, [with_email, without])
    out = _worker_output(api, practice, capsys)
    outcomes = {e["to"] or "": e for e in email_log(api, practice)}
    suppressed = [e for e in outcomes.values() if e["status"] == "suppressed"]
    assert [e["status"] for e in outcomes.values()].count("sent") == 1
    assert [m["dimensions"]["kind"] for m in _named(out, "EmailsSent")] == [
        "appointment_confirmation"
    ]
    assert [m["dimensions"]["reason"] for m in _named(out, "EmailsSuppressed")] == [
        e["reason"] for e in suppressed
    ]
    for metric in _named(out, "EmailsSent") + _named(out, "EmailsSuppressed"):
        assert (metric["unit"], metric["value"]) == ("Count", [1.0])
        assert metric["dimensions"]["stage"] == config.STAGE
    sent = [line for line in lines() if line["message"]["event"] == "email.sent"]
    assert sent
    assert all(line.get("function_request_id") for line in sent)


def test_a_batch_counts_its_emails_by_kind_and_reason_in_one_line_each(
    api: Api, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    # R41, R43 (issue #17): a batch's counts go out as one EMF line per kind and per reason,
    # each with the batch's total, so an alarm sees every email and the worker writes 2 lines
    clients = [add_client(api, practice, name, f"{name.lower()}@example.com") for name in "AB"]
    book(api, practice, [*clients, add_client(api, practice, "Cy", None)])
    out = _worker_output(api, practice, capsys)
    assert [(m["dimensions"]["kind"], m["value"]) for m in _named(out, "EmailsSent")] == [
        ("appointment_confirmation", [2.0])
    ]
    assert [(m["dimensions"]["reason"], m["value"]) for m in _named(out, "EmailsSuppressed")] == [
        ("no_email", [1.0])
    ]


def test_failed_sign_ins_and_throttles_are_counted(
    api: Api, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    # R45: each failed password counts; the answer past the limit is a 429, counted too
    capsys.readouterr()
    answers = [
        login(api, practice.admin_email, "not the password").status
        for _ in range(config.LOGIN_FAILURES_PER_EMAIL + 1)
    ]
    out = capsys.readouterr().out
    assert answers == [401] * config.LOGIN_FAILURES_PER_EMAIL + [429]
    assert len(_named(out, "SignInFailures")) == config.LOGIN_FAILURES_PER_EMAIL
    assert len(_named(out, "Throttled")) == 1
    assert login(api, practice.admin_email).status == 429
    assert len(_named(capsys.readouterr().out, "SignInFailures")) == 0


def test_a_dead_job_is_counted(
    api: Api, practice: Practice, capsys: pytest.CaptureFixture[str]
) -> None:
    # R42: the sweep ends a job the queue gave up on dead, and an alarm watches EmailsDead
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    [job] = email_log(api, practice)
    capsys.readouterr()
    outbox.send_to_dead_letters([job["id"]])
    assert outbox.bury_dead_letters() == 1
    outbox.send_to_dead_letters([job["id"]])
    assert outbox.bury_dead_letters() == 0  # once
    assert len(_named(capsys.readouterr().out, "EmailsDead")) == 1
