"""R17: bookings and purchases through a practice's public page add unknown clients."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import config
from chalicelib.models.audit import AuditEvent
from tests.support.api import Answer, Api, Practice, add_provider, sign_up_practice

STARTS = "2099-03-01T10:00:00Z"


def booking(api: Api, slug: str, **fields: Any) -> Answer:
    body = {
        "email": "maya@example.com",
        "first_name": "Maya",
        "last_name": "Chen",
        "starts_at": STARTS,
        **fields,
    }
    return api.post(f"/v1/public/orgs/{slug}/bookings", body)


def purchase(api: Api, slug: str, **fields: Any) -> Answer:
    body = {
        "email": "maya@example.com",
        "first_name": "Maya",
        "last_name": "Chen",
        "package": "Five sessions",
        **fields,
    }
    return api.post(f"/v1/public/orgs/{slug}/purchases", body)


def clients_of(api: Api, practice: Practice) -> list[dict[str, Any]]:
    return api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).body["clients"]


def emails_of(api: Api, practice: Practice) -> list[dict[str, Any]]:
    return api.get(f"/v1/orgs/{practice.id}/emails", practice.admin_token).body["emails"]


def test_a_booking_with_an_unknown_email_adds_the_client(api: Api, practice: Practice):
    # R17: added automatically, source booking; the appointment is made with its confirmation.
    answer = booking(api, "sunrise")
    assert answer.status == 201, answer.body
    (client,) = clients_of(api, practice)
    assert (client["email"], client["source"]) == ("maya@example.com", "booking")
    listed = api.get(f"/v1/orgs/{practice.id}/appointments", practice.admin_token).body
    (appointment,) = listed["appointments"]
    assert appointment["client_ids"] == [client["id"]]
    assert appointment["id"] == answer.body["booking"]["id"]
    kinds = sorted(e["kind"] for e in emails_of(api, practice))
    # R13: the new client is invited to the portal like any client added with an email.
    assert kinds == ["appointment_confirmation", "invite", "new_client_notification"]


def test_the_primary_provider_is_told_of_the_new_client(api: Api, practice: Practice):
    # R17: the primary provider receives an email notification, in the practice's branding.
    lee = add_provider(api, practice, "lee")
    booking(api, "sunrise", provider_id=lee["id"])
    (client,) = clients_of(api, practice)
    assert client["primary_provider_id"] == lee["id"]  # R10: the provider the booking names
    notices = [e for e in emails_of(api, practice) if e["kind"] == "new_client_notification"]
    assert [n["to"] for n in notices] == [lee["email"]]
    drained = api.post("/_local/drain")
    assert drained.body["dead"] == 0
    sent = {e["kind"]: e for e in api.get("/_local/outbox.json").body}
    notice = sent["new_client_notification"]
    assert notice["to"] == lee["email"]
    assert "New client: Maya Chen" in notice["subject"]
    assert "Practice sunrise" in notice["html"]


def test_a_known_client_is_reused_and_nobody_is_notified(api: Api, practice: Practice):
    # R17: a known client of that organization is reused (no duplicate).
    booking(api, "sunrise")
    again = booking(
        api, "sunrise", first_name="Someone", last_name="Else", starts_at="2099-03-02T10:00:00Z"
    )
    assert again.status == 201
    (client,) = clients_of(api, practice)
    assert client["first_name"] == "Maya"  # a public form cannot rename a client
    kinds = sorted(e["kind"] for e in emails_of(api, practice))
    assert kinds.count("new_client_notification") == 1
    assert kinds.count("appointment_confirmation") == 2


def test_the_answer_is_the_same_for_known_and_unknown_emails(api: Api, practice: Practice):
    # R4: the anonymous caller learns nothing about whether the email is a client anywhere.
    other = sign_up_practice(api, "moonrise")
    api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Noor", "last_name": "Haddad", "email": "noor@example.com"},
        other.admin_token,
    )
    unknown = booking(api, "sunrise", email="sam@example.com")
    elsewhere = booking(api, "sunrise", email="noor@example.com")
    known = booking(api, "sunrise", email="sam@example.com")
    assert {unknown.status, elsewhere.status, known.status} == {201}
    assert (
        set(unknown.body["booking"]) == set(elsewhere.body["booking"]) == set(known.body["booking"])
    )
    assert other.id.encode() not in elsewhere.raw


def test_a_purchase_with_an_unknown_email_adds_the_client(api: Api, practice: Practice):
    # R17: source package; the purchase is audited on the new client with its arrival (R47);
    # the buyer's receipt is queued with the invite (R54).
    answer = purchase(api, "sunrise")
    assert answer.status == 201, answer.body
    assert answer.body["purchase"]["package"] == "Five sessions"
    (client,) = clients_of(api, practice)
    assert client["source"] == "package"
    events = list(AuditEvent.query(AuditEvent.subject_for(practice.id, client["id"])))
    assert sorted(e.action for e in events) == [
        "client.added",
        "invite.issued",
        "package.purchased",
    ]
    kinds = sorted(e["kind"] for e in emails_of(api, practice))
    assert kinds == ["invite", "new_client_notification", "payment_receipt"]
    purchase(api, "sunrise")
    assert len(clients_of(api, practice)) == 1


def test_a_booking_arrival_is_audited(api: Api, practice: Practice) -> None:
    # R47: the arrival by booking is an audit event of the new client.
    booking(api, "sunrise")
    (client,) = clients_of(api, practice)
    events = AuditEvent.query(AuditEvent.subject_for(practice.id, client["id"]))
    (event,) = [e for e in events if e.action == "client.added"]
    assert (event.action, event.actor, event.details) == (
        "client.added",
        "self",
        {"source": "booking"},
    )


def test_an_unknown_slug_is_a_404(api: Api, practice: Practice) -> None:
    # API.md: no such practice.
    assert booking(api, "nowhere").status == 404
    assert purchase(api, "nowhere").status == 404


def test_a_provider_of_another_practice_is_refused_like_a_missing_one(api: Api, practice):
    # R4: another organization's provider answers exactly as one that does not exist.
    other = sign_up_practice(api, "moonrise")
    theirs = add_provider(api, other, "kim")
    foreign = booking(api, "sunrise", provider_id=theirs["id"])
    missing = booking(api, "sunrise", provider_id="pr_" + "0" * 24)
    assert foreign.status == 400
    assert foreign.raw == missing.raw
    assert clients_of(api, practice) == []


@pytest.mark.parametrize("send", [booking, purchase])
def test_r51_a_staff_address_is_answered_as_any_other_and_told_by_email(
    api: Api, practice: Practice, send: Any
):
    # R51, R12: a staff address is not made a client, but the anonymous caller cannot tell:
    # the same status and the same fields as for a new address. The practice's audit log keeps
    # the refusal; the address alone is told, by email. (It used to answer 409 email_is_staff.)
    new = send(api, "sunrise", email="sam@example.com")
    staff = send(api, "sunrise", email=practice.admin_email)
    assert (staff.status, new.status) == (201, 201), staff.body
    (name,) = staff.body
    assert set(staff.body[name]) == set(new.body[name])
    assert [c["email"] for c in clients_of(api, practice)] == ["sam@example.com"]
    refused = [
        e
        for e in AuditEvent.query(AuditEvent.subject_for(practice.id, None))
        if e.action in {"booking.refused", "package.purchase_refused"}
    ]
    assert len(refused) == 1
    assert refused[0].details["reason"] == "email_is_staff"
    told = [e for e in emails_of(api, practice) if e["kind"] == "staff_address_used"]
    assert len(told) == 1
    assert api.post("/_local/drain").body["sent"] >= 1
    (sent,) = [e for e in emails_of(api, practice) if e["kind"] == "staff_address_used"]
    assert (sent["to"], sent["status"]) == (practice.admin_email, "sent")


def test_bookings_from_one_address_are_throttled(api: Api, practice: Practice) -> None:
    # R17: anonymous routes are bounded: past the limit per source address, 429 with Retry-After.
    for n in range(config.PUBLIC_ACTIONS_PER_SOURCE):
        assert booking(api, "sunrise", email=f"c{n}@example.com").status == 201
    answer = booking(api, "sunrise", email="late@example.com")
    assert answer.status == 429
    assert int({k.lower(): v for k, v in answer.headers.items()}["retry-after"]) >= 1


def test_bookings_for_one_email_are_throttled(api: Api, practice: Practice) -> None:
    # R17: one person's mailbox cannot be flooded with confirmations.
    for n in range(config.PUBLIC_ACTIONS_PER_EMAIL):
        hour = f"2099-03-01T{10 + n}:00:00Z"
        assert booking(api, "sunrise", starts_at=hour).status == 201
    assert booking(api, "sunrise", starts_at="2099-03-02T10:00:00Z").status == 429


@pytest.mark.parametrize("starts_at", ["2001-01-01T10:00:00Z", "tomorrow", "2099-03-01T10:00:00"])
def test_a_bad_start_is_a_400(api: Api, practice: Practice, starts_at: str) -> None:
    # API.md: 400 naming the field; a past moment, a non-date and a time without offset.
    answer = booking(api, "sunrise", starts_at=starts_at)
    assert answer.status == 400
    assert [d["field"] for d in answer.body["error"]["details"]] == ["starts_at"]
