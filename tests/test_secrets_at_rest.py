"""R53: secrets stay secret at rest. A link's or code's secret is stored only as a hash; until
its email is sent the worker's copy is sealed with KMS (moto's here, as in `make run`); a job
keeps no body and no secret once it ends; jobs expire after the organization's retention; the
local outbox's copy of a sent email exists only in the local stage.

Each test reads the items as DynamoDB holds them (every attribute, the JSON ones decoded), not
through the models, so a secret in any attribute, named or not, is found."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import botocore.exceptions
import pytest

from chalicelib import aws, config, sealing
from chalicelib.errors import NotFound
from chalicelib.models.emails import EmailJob, LocalOutboxCopy
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import local_stage, outbox, triggers
from chalicelib.services.email import delivery
from chalicelib.services.email.rendering import Rendered
from tests.support.api import Api, Practice, give_password
from tests.support.email import RecordingSender, book, email_log
from tests.support.family import family, jobs_of
from tests.support.invites import add_client
from tests.support.join import Browser, code_of, make_group, sign_up_fields
from tests.support.records import sealed_link, stored

# The secret in a sent email: a link's last part, or (a passcode) six digits.
LINK = re.compile(r"/(?:invite|reset|caregiver-invite|join-confirm)/([A-Za-z0-9_-]{20,})")
CODE = re.compile(r"\b([0-9]{6})\b")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T")  # microseconds are six digits too


def _raw(table: str, key: dict[str, str]) -> dict[str, Any]:
    """The item as DynamoDB stores it, or {} when there is none."""
    answer = aws.client("dynamodb").get_item(
        TableName=config.table(table),
        Key={name: {"S": value} for name, value in key.items()},
        ConsistentRead=True,
    )
    return answer.get("Item", {})


def _strings(value: Any) -> Iterator[str]:
    """Every string an item holds, JSON attributes opened, timestamps left out."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)
    elif isinstance(value, str) and not TIMESTAMP.match(value):
        try:
            opened = json.loads(value)
        except ValueError:
            opened = None
        if isinstance(opened, dict | list):
            yield from _strings(opened)
        yield value


def _holds(item: dict[str, Any], secret: str) -> bool:
    return any(secret in text for text in _strings(item))


def _invite(api: Api, practice: Practice) -> EmailJob:
    add_client(api, practice, "maya@example.com")
    return _only(practice.id, "invite")


def _reset(api: Api, practice: Practice) -> EmailJob:
    add_client(api, practice, "maya@example.com", send_invite=False)
    give_password("maya@example.com")
    assert api.post("/v1/auth/password-reset", {"email": "maya@example.com"}).status == 202
    return _only(outbox.UNADDRESSED_ORG, "password_reset")  # the worker files it (R51)


def _passcode(api: Api, practice: Practice) -> EmailJob:
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": True}}, practice.admin_token)
    add_client(api, practice, "maya@example.com", send_invite=False)
    give_password("maya@example.com")
    assert api.post("/v1/auth/otp", {"email": "maya@example.com"}).status == 202
    return _only(outbox.UNADDRESSED_ORG, "otp_code")


def _caregiver_invite(api: Api, practice: Practice) -> EmailJob:
    fam = family(api, practice, accept=False)
    (job,) = jobs_of(practice.id, fam.caregiver, "caregiver_invite")
    return job


def _join_confirmation(api: Api, practice: Practice) -> EmailJob:
    code = code_of(make_group(api, practice))
    assert Browser(api).post(f"/join/{code}", sign_up_fields("maya@example.com")).status == 200
    return _only(practice.id, "join_confirmation")


def _only(org_id: str, kind: str) -> EmailJob:
    (job,) = [job for job in EmailJob.by_org.query(org_id) if job.kind == kind]
    return job


KINDS: dict[str, Callable[[Api, Practice], EmailJob]] = {
    "invite": _invite,
    "password_reset": _reset,
    "otp_code": _passcode,
    "caregiver_invite": _caregiver_invite,
    "join_confirmation": _join_confirmation,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_r53_no_job_nor_token_holds_a_link_or_code_in_clear_and_a_sent_job_keeps_none(
    api: Api, practice: Practice, kind: str
) -> None:
    # GIVEN an email that carries a secret, queued by the request that issued it
    # WHEN the worker sends it  THEN neither the job nor the token ever held the secret in
    # clear, and the sent job keeps no body and no sealed copy: only what the log needs.
    job = KINDS[kind](api, practice)
    token_hash = job.context["token_hash"]
    queued = _raw("emails", {"job_id": job.job_id})
    token = _raw("tokens", {"token_hash": token_hash})
    assert "sealed_secret" in queued
    sender = RecordingSender()
    assert delivery.deliver(job.job_id, sender) == "sent"
    [sent] = sender.sent
    found = (CODE if kind == "otp_code" else LINK).search(sent["message"].text)
    assert found is not None, sent["message"].text
    secret, link = found.group(1), found.group(0).lstrip("/")
    ended = _raw("emails", {"job_id": job.job_id})
    for item in (queued, token, ended, _raw("tokens", {"token_hash": token_hash})):
        assert not _holds(item, secret), item
        assert not _holds(item, link), item
    assert {"sealed_secret", "html", "text"}.isdisjoint(ended)
    assert ended["status"] == {"S": "sent"}
    assert {"kind", "to", "subject", "sent_at", "created_at"} <= set(ended)


def test_r53_a_passcode_cannot_be_found_from_its_stored_hash_without_the_key(
    api: Api, practice: Practice
) -> None:
    # R53, R22: a million codes are few enough to try every one against a plain hash; the
    # stored hash is keyed, so a copy of the tokens table tests no guessed code.
    job = _passcode(api, practice)
    code = sealed_link(job)
    token = _raw("tokens", {"token_hash": job.context["token_hash"]})
    subject = token["subject"]["S"]
    assert hashlib.sha256(f"{subject}:{code}".encode()).hexdigest() != job.context["token_hash"]
    assert code not in subject
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    right = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": wrong})
    assert right.status == 401  # a wrong code still fails; the right one signs in:
    answer = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert answer.status == 200, answer.body


def test_r53_a_sealed_link_opens_only_for_the_token_it_was_sealed_for(aws: None) -> None:
    # R53: the KMS encryption context binds the sealed value to its token: moved onto another
    # job or token, it does not open.
    sealed = sealing.seal("https://portal.example/invite/s3cret-link", "a" * 64)
    assert "s3cret" not in sealed.ciphertext
    assert sealing.unseal(sealed) == "https://portal.example/invite/s3cret-link"
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidCiphertext"):
        sealing.unseal(sealing.Sealed(sealed.ciphertext, "b" * 64))


def test_r53_a_follow_up_carries_a_new_link_sealed_and_no_token_keeps_one(
    api: Api, practice: Practice
) -> None:
    # R14 makes each follow-up a new link, so no token needs to keep one: the follow-up's job
    # carries its own link sealed, and neither token holds a sealed or clear copy of either.
    first = _invite(api, practice)
    first_link = sealed_link(first)
    assert triggers.follow_ups(first.created_at + timedelta(days=3, minutes=1))["follow_ups"] == 1
    (follow_up,) = [
        j
        for j in EmailJob.by_client.query(f"{practice.id}#{first.client_id}")
        if j.kind == "invite" and j.job_id != first.job_id
    ]
    assert "sealed_secret" in _raw("emails", {"job_id": follow_up.job_id})
    second_link = sealed_link(follow_up)
    assert second_link != first_link
    for job in (first, follow_up):
        token = _raw("tokens", {"token_hash": job.context["token_hash"]})
        assert not any("sealed" in name for name in token), token
        assert not _holds(token, first_link.rsplit("/", 1)[1])
        assert not _holds(token, second_link.rsplit("/", 1)[1])


def test_r53_a_suppressed_or_dead_job_keeps_no_sealed_link(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R43 and R42 end a job without sending it: it keeps its link neither sealed nor in clear.
    archived = _invite(api, practice)
    api.post(
        f"/v1/orgs/{practice.id}/clients/{archived.client_id}/archive", token=practice.admin_token
    )
    failing = add_client(api, practice, "noor@example.com")
    monkeypatch.setattr(
        delivery, "SesSender", lambda: RecordingSender(fail_for={"noor@example.com"})
    )
    assert local_stage.drain() == {"sent": 0, "suppressed": 1, "dead": 1}
    dead_job = next(j for j in EmailJob.by_client.query(f"{practice.id}#{failing['id']}"))
    for job_id in (archived.job_id, dead_job.job_id):
        item = _raw("emails", {"job_id": job_id})
        assert item["status"]["S"] in {"suppressed", "dead"}
        assert "sealed_secret" not in item
        assert not _holds(item, "/invite/")


def test_r53_only_the_local_stage_keeps_a_copy_of_a_sent_email(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local outbox shows the invite with its link (a person follows it in `make run`):
    # the local stage's sender kept a copy. The worker every other stage runs keeps none, and
    # the local sender refuses to run outside the local stage.
    from chalice.test import Client  # noqa: PLC0415

    from app import app  # noqa: PLC0415
    from tests.support.email import sqs_event  # noqa: PLC0415

    job = _invite(api, practice)
    link = sealing.unseal(sealing.Sealed(job.sealed_secret or "", job.context["token_hash"]))
    assert api.post("/_local/drain").body["sent"] == 1
    [shown] = api.get("/_local/outbox.json").body
    assert link in shown["html"]
    assert link in shown["text"]
    assert "html" not in _raw("emails", {"job_id": job.job_id})

    other = add_client(api, practice, "noor@example.com")
    (noor_job,) = [
        j for j in EmailJob.by_client.query(f"{practice.id}#{other['id']}") if j.kind == "invite"
    ]
    sqs, url = aws.client("sqs"), aws.queue_url(config.EMAIL_QUEUE)
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert message["Body"] == noor_job.job_id
    record = delivery.Record(message["MessageId"], message["Body"], message["ReceiptHandle"])
    monkeypatch.setattr(config, "STAGE", "prod")
    monkeypatch.setattr(config, "EMAIL_WORKER_REPORTS_FAILURES", True)
    with Client(app) as client:
        answer = client.lambda_.invoke("email_worker", sqs_event([record])).payload
    assert answer == {"batchItemFailures": []}
    sent = stored(EmailJob, noor_job.job_id)
    assert sent.status == "sent"
    assert sent.ses_message_id is not None
    assert _raw("emails", {"job_id": LocalOutboxCopy.key_for(sent.ses_message_id)}) == {}
    with pytest.raises(NotFound):
        local_stage.LocalOutboxSender(RecordingSender()).send(
            "a@example.com", "b@example.com", None, Rendered("s", "<p>h</p>", "t"), "em_x"
        )


def test_r53_email_jobs_expire_after_the_organizations_retention(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A job carries its TTL from the moment it is written (the default 400 days); once it
    # ends, the organization's `email_retention_days` decides. The table expires it by TTL.
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=config.table("emails"))
    assert ttl["TimeToLiveDescription"] == {
        "AttributeName": "purge_at",
        "TimeToLiveStatus": "ENABLED",
    }
    from tests.support.email import add_client as add_plain_client  # noqa: PLC0415

    ana = add_plain_client(api, practice, "Ana", "ana@example.com")
    book(api, practice, [ana])
    [queued] = email_log(api, practice)
    job = stored(EmailJob, queued["id"])
    assert _kept_days(job) == 400
    api.post("/_local/drain")
    assert _kept_days(stored(EmailJob, job.job_id)) == 400
    changed = api.patch(
        f"/v1/orgs/{practice.id}", {"settings": {"email_retention_days": 30}}, practice.admin_token
    )
    assert changed.status == 200, changed.body
    assert changed.body["org"]["settings"]["email_retention_days"] == 30
    book(api, practice, [ana])
    newer = next(e for e in email_log(api, practice) if e["id"] != job.job_id)
    api.post("/_local/drain")
    sent = stored(EmailJob, newer["id"])
    assert sent.status == "sent"
    assert _kept_days(sent) == 30
    # A job that fails every delivery takes the retention from its first failed delivery.
    bob = add_plain_client(api, practice, "Bob", "bob@example.com")
    book(api, practice, [bob])
    monkeypatch.setattr(
        delivery, "SesSender", lambda: RecordingSender(fail_for={"bob@example.com"})
    )
    assert api.post("/_local/drain").body["dead"] == 1
    [dead] = [e for e in email_log(api, practice) if e["status"] == "dead"]
    assert _kept_days(stored(EmailJob, dead["id"])) == 30


def _kept_days(job: EmailJob) -> float:
    """Days from the job's writing to its TTL (which DynamoDB keeps to the second)."""
    assert job.purge_at is not None
    return round((job.purge_at - job.created_at).total_seconds() / 86400, 4)


@pytest.mark.parametrize(("days", "status"), [(29, 400), (30, 200), (3650, 200), (3651, 400)])
def test_r53_the_retention_is_at_least_a_month_and_at_most_ten_years(
    api: Api, practice: Practice, days: int, status: int
) -> None:
    answer = api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"email_retention_days": days}},
        practice.admin_token,
    )
    assert answer.status == status, answer.body
    shown = api.get(f"/v1/orgs/{practice.id}", practice.admin_token).body["org"]["settings"]
    assert shown["email_retention_days"] == (days if status == 200 else 400)


def test_r53_a_copy_carries_its_ttl_from_the_moment_it_is_written(
    api: Api, practice: Practice
) -> None:
    # R29's copies are email jobs like any other: one the worker never ends still expires.
    from tests.support.email import add_client as add_plain_client  # noqa: PLC0415

    ana = add_plain_client(api, practice, "Ana", "ana@example.com")
    contact = {"first_name": "Jo", "last_name": "C", "email": "jo@example.com", "notify": True}
    path = f"/v1/orgs/{practice.id}/clients/{ana}/contacts"
    added = api.post(path, {**contact, "relationship": "parent"}, practice.admin_token)
    assert added.status == 201, added.body
    book(api, practice, [ana])
    [parent] = email_log(api, practice)
    client = stored(ClientProfile, practice.id, ana)
    assert delivery.copies.queue_for(stored(EmailJob, parent["id"]), client) == 1
    [copy] = [j for j in EmailJob.by_client.query(f"{practice.id}#{ana}") if j.copy_of]
    assert copy.status == "queued"
    assert _kept_days(copy) == 400
