"""Twenty requests at once against the local stack: unique emails and slugs hold (R1, R12).

Each scenario runs a few rounds with fresh emails, so that one lucky interleaving cannot pass
it. Every request opens its own connection and waits at a barrier, so the twenty reach
`chalice local` (threaded) and moto's server together; no answer may be a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.budget import examples
from tests.support.concurrency import Call, fresh, tally, together, unexpected
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

WORKERS = 20
SIGN_IN_FAILURES_PER_EMAIL = 5  # R45
# Each round a fresh race: one in make test, three in make fuzz (README "How the tests stay fast").
ROUNDS = examples(1, 3)
PASSWORD = "correct horse battery"


def sign_up_body(slug: str, admin_email: str) -> dict[str, Any]:
    return {
        "name": f"Practice {slug}",
        "slug": slug,
        "admin": {
            "email": admin_email,
            "password": PASSWORD,
            "first_name": "Ada",
            "last_name": "Admin",
        },
    }


@dataclass(frozen=True)
class Practice:
    id: str
    token: str


def sign_up(stack: Stack) -> Practice:
    slug = fresh("practice")
    answer = stack.call("POST", "/v1/orgs", sign_up_body(slug, f"admin@{slug}.example"))
    assert answer.status_code == 201, answer.text
    return Practice(answer.json()["org"]["id"], answer.json()["token"])


def client_body(email: str) -> dict[str, Any]:
    return {"first_name": "Maya", "last_name": "Chen", "email": email}


@pytest.fixture(scope="module", autouse=True)
def warm(stack: Stack) -> None:
    """Take each code path once before racing on it. The API's database clients are built on
    first use; when twenty requests are the first, each of twenty threads builds its own
    (PynamoDB's lazy client is check-then-set), which costs seconds and proves nothing."""
    practice = sign_up(stack)
    path = f"/v1/orgs/{practice.id}/clients"
    answer = stack.call("POST", path, client_body(f"{fresh('warm')}@example.com"), practice.token)
    assert answer.status_code == 201, answer.text
    assert stack.call("GET", path, token=practice.token).status_code == 200
    assert stack.call("GET", "/v1/me", token=practice.token).status_code == 200


@pytest.fixture(scope="module")
def practices(stack: Stack) -> list[Practice]:
    """Twenty practices, signed up one after another before any race starts."""
    return [sign_up(stack) for _ in range(WORKERS)]


def test_twenty_practices_adding_one_new_email_at_once_make_one_identity(
    stack: Stack, practices: list[Practice]
) -> None:
    """R1: an email belongs to at most one identity, even when twenty practices add it at once.

    GIVEN twenty practices  WHEN each adds a client with the same new email at the same moment
    THEN all twenty are created and every profile belongs to the one identity the email names.
    """
    profiles_table, identities_table = stack.table("profiles"), stack.table("identities")
    for _ in range(ROUNDS):
        email = f"{fresh('shared')}@example.com"
        answers = together(
            stack,
            [
                Call("POST", f"/v1/orgs/{p.id}/clients", client_body(email), p.token)
                for p in practices
            ],
        )
        assert tally(answers) == {(201, None): WORKERS}, unexpected(answers, 201)

        identity_ids = set()
        for practice, answer in zip(practices, answers, strict=True):
            key = {"org_id": practice.id, "client_id": answer.body["client"]["id"]}
            profile = profiles_table.get_item(Key=key, ConsistentRead=True)["Item"]
            assert profile["email"] == email
            identity_ids.add(profile["identity_id"])
        assert len(identity_ids) == 1, f"one email, {len(identity_ids)} identities: {identity_ids}"

        claim = identities_table.get_item(Key={"id": f"email#{email}"}, ConsistentRead=True)
        identity_id = claim["Item"]["identity_id"]
        assert identity_ids == {identity_id}
        identity = identities_table.get_item(Key={"id": identity_id}, ConsistentRead=True)
        assert identity["Item"]["email"] == email
        owned = profiles_table.query(
            IndexName="profiles_by_identity",
            KeyConditionExpression="identity_id = :i",
            ExpressionAttributeValues={":i": identity_id},
        )["Items"]
        assert {item["org_id"] for item in owned} == {p.id for p in practices}


def test_twenty_simultaneous_adds_of_one_email_in_one_practice_make_one_client(
    stack: Stack,
) -> None:
    """R12: one active client per email in a practice, however many staff add it at once.

    GIVEN a practice  WHEN twenty requests add a client with the same new email at the same
    moment  THEN one is created, nineteen are refused as email_in_use, and the list has one.
    """
    practice = sign_up(stack)
    for _ in range(ROUNDS):
        email = f"{fresh('twin')}@example.com"
        path = f"/v1/orgs/{practice.id}/clients"
        answers = together(
            stack, [Call("POST", path, client_body(email), practice.token)] * WORKERS
        )
        expected = {(201, None): 1, (409, "email_in_use"): WORKERS - 1}
        assert tally(answers) == expected, unexpected(answers, 409)
        winner = next(a.body["client"]["id"] for a in answers if a.status == 201)
        for refused in (a for a in answers if a.status == 409):
            assert refused.body["error"]["conflicting_client_ids"] == [winner]

        listed = stack.call("GET", f"{path}?status=all&limit=100", token=practice.token)
        assert listed.status_code == 200, listed.text
        same_email = [c["id"] for c in listed.json()["clients"] if c["email"] == email]
        assert same_email == [winner]


def test_twenty_practices_signed_up_at_once_by_one_new_admin_email_make_one_login(
    stack: Stack,
) -> None:
    """R1, R50: twenty practices signed up at once by one new email and password make one
    login, and one practice.

    GIVEN a new email  WHEN twenty practices sign up with it as admin (same password) at once
    THEN one is created with the login; its password is unproven, so it opens that practice
    only (R50) and is no password for another practice's sign-up: the other nineteen answer
    as failed sign-ins (401, R51), each counted before its password is checked, so no more
    are checked than one after another would be and the rest answer 429 (R45, R52); no second
    identity exists.
    """
    for _ in range(ROUNDS):
        email = f"{fresh('founder')}@example.com"
        answers = together(
            stack,
            [
                Call("POST", "/v1/orgs", sign_up_body(fresh("clinic"), email))
                for _ in range(WORKERS)
            ],
        )
        counts = tally(answers)
        checked = counts.get((401, "invalid_credentials"), 0)
        assert counts.get((201, None)) == 1, counts
        assert checked + counts.get((429, "throttled"), 0) == WORKERS - 1, counts
        # The one success forgives the failures counted before it (R45), as it would one
        # after another: at most five checked on each side of it.
        assert checked <= 2 * SIGN_IN_FAILURES_PER_EMAIL, counts

        (made,) = [a for a in answers if a.status == 201]
        me = stack.call("GET", "/v1/me", token=made.body["token"])
        assert me.status_code == 200, me.text
        assert [a["org"]["id"] for a in me.json()["accounts"]] == [made.body["org"]["id"]]
        login = stack.call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
        if login.status_code == 429:
            # R45: five failures counted after the success lock the address for the window,
            # as five in a row would; the 201 alone made a login.
            continue
        again = stack.call("GET", "/v1/me", token=login.json()["token"])
        assert again.json()["identity"]["id"] == me.json()["identity"]["id"]


def test_twenty_sign_ups_racing_for_one_slug_make_one_practice(stack: Stack) -> None:
    """R1, R12 (API.md POST /v1/orgs): one practice per slug, however many claim it at once.

    GIVEN a free slug  WHEN twenty practices with different new admins sign up with it at once
    THEN one is created and nineteen are refused as slug_taken, none of their admins' logins
    half-made: the winner's email names a login, no refused one does.
    """
    identities_table = stack.table("identities")
    for _ in range(ROUNDS):
        slug = fresh("popular")
        emails = [f"{fresh('owner')}@example.com" for _ in range(WORKERS)]
        answers = together(
            stack, [Call("POST", "/v1/orgs", sign_up_body(slug, email)) for email in emails]
        )
        expected = {(201, None): 1, (409, "slug_taken"): WORKERS - 1}
        assert tally(answers) == expected, unexpected(answers, 409)

        for email, answer in zip(emails, answers, strict=True):
            claim = identities_table.get_item(Key={"id": f"email#{email}"}, ConsistentRead=True)
            assert ("Item" in claim) == (answer.status == 201), (email, answer.status)


def _settle(sqs: Any, url: str, sent: Callable[[], int], seconds: float = 60) -> int:
    """SES's count once the stack is quiet: no message waits on the queue and nothing was sent
    for two seconds (the feeder drains every second). Messages in flight are left: they are
    deliveries of jobs that have ended or are ending, which send nothing more."""
    deadline = time.monotonic() + seconds
    count, since = sent(), time.monotonic()
    while time.monotonic() < deadline:
        visible = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        now = sent()
        if now != count or int(visible):
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= 2:
            return count
        time.sleep(0.2)
    pytest.fail(f"the stack kept sending email for {seconds} s")


def test_workers_racing_on_redelivered_jobs_send_each_email_once(stack: Stack) -> None:
    """R41: every job on the queue three times, drained by four workers at once (and by the
    stack's own feeder): each email is sent exactly once.

    GIVEN ten confirmation jobs whose messages are sent again twice each  WHEN four drains
    race  THEN the outbox holds each email once and the log says each was sent."""
    practice = sign_up(stack)
    provider = stack.call("GET", f"/v1/orgs/{practice.id}/providers", token=practice.token)
    provider_id = provider.json()["providers"][0]["id"]
    ses = stack.client("ses")

    def ses_sent() -> int:
        return int(ses.get_send_quota()["SentLast24Hours"])

    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="portico-local-email")["QueueUrl"]
    before = _settle(sqs, url, ses_sent)  # the demo's and earlier tests' emails are out
    emails = [f"{fresh('racer')}@example.com" for _ in range(10)]
    for email in emails:
        client = stack.call(
            "POST",
            f"/v1/orgs/{practice.id}/clients",
            {**client_body(email), "send_invite": False},  # the bookings' emails alone
            practice.token,
        )
        booked = stack.call(
            "POST",
            f"/v1/orgs/{practice.id}/appointments",
            {
                "provider_id": provider_id,
                "client_ids": [client.json()["client"]["id"]],
                "starts_at": "2099-05-01T10:00:00Z",
                "minutes": 30,
                "type": "Visit",
            },
            practice.token,
        )
        assert booked.status_code == 201, booked.text
    log = stack.call("GET", f"/v1/orgs/{practice.id}/emails?limit=100", token=practice.token)
    job_ids = [e["id"] for e in log.json()["emails"]]
    assert len(job_ids) == 10
    for job_id in job_ids * 2:
        sqs.send_message(QueueUrl=url, MessageBody=job_id)
    together(stack, [Call("POST", "/_local/drain") for _ in range(4)])
    together(stack, [Call("POST", "/_local/drain") for _ in range(2)])  # whatever is left
    sent = [e for e in stack.call("GET", "/_local/outbox.json").json() if e["to"] in emails]
    assert sorted(e["to"] for e in sent) == sorted(emails)
    assert ses_sent() - before == 10  # thirty deliveries of ten jobs, ten emails
    statuses = stack.call("GET", f"/v1/orgs/{practice.id}/emails?limit=100", token=practice.token)
    assert {e["status"] for e in statuses.json()["emails"]} == {"sent"}
