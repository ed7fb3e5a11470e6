"""Contacts and links (R24–R29, R34, R36): every field, both sides, origin-only edits, copies
of exactly the client's emails."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.models.emails import EmailJob
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.services.email import copies, delivery
from chalicelib.services.families import holders, links
from chalicelib.services.identity import identities
from scripts import backfill_copy_holders
from tests.support.api import Answer, Api, Practice
from tests.support.email import RecordingSender, book
from tests.support.family import add_client, link


def contacts_path(practice: Practice, client_id: str) -> str:
    return f"/v1/orgs/{practice.id}/clients/{client_id}/contacts"


def add_copied_parent(api: Api, practice: Practice, client_id: str) -> Answer:
    """Ana, a parent contact of the client who gets copies of its emails (R24, R29)."""
    return api.post(
        contacts_path(practice, client_id),
        {
            "first_name": "Ana",
            "last_name": "R",
            "email": "ana@example.com",
            "relationship": "parent",
            "notify": True,
        },
        practice.admin_token,
    )


def drain(sender: RecordingSender) -> None:
    """Deliver every open job until none is left (copies are added while delivering)."""
    from chalicelib.models.emails import OPEN, EmailJob  # noqa: PLC0415

    for _ in range(5):
        open_jobs = list(EmailJob.open_jobs.query(OPEN))
        if not open_jobs:
            return
        for job in open_jobs:
            delivery.deliver(job.job_id, sender)


def test_r24_a_contact_keeps_every_field_and_shows_emergency(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    body = {
        "first_name": "Ana",
        "last_name": "Rivera",
        "email": "ana@example.com",
        "phone": "+1 415 555 0100",
        "relationship": "parent",
        "emergency_contact": True,
        "notify": True,
    }
    made = api.post(contacts_path(practice, sam), body, practice.admin_token)
    assert made.status == 201, made.body
    listed = api.get(contacts_path(practice, sam), practice.admin_token).body["contacts"]
    assert [{k: c[k] for k in body} for c in listed] == [body]


def test_r24_staff_edit_and_remove_a_contact(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    body = {"first_name": "Ana", "last_name": "Rivera", "relationship": "other"}
    contact = api.post(contacts_path(practice, sam), body, practice.admin_token).body["contact"]
    path = f"{contacts_path(practice, sam)}/{contact['id']}"
    edited = api.patch(path, {"emergency_contact": True, "phone": None}, practice.admin_token)
    assert edited.body["contact"]["emergency_contact"] is True
    assert api.call("DELETE", path, token=practice.admin_token).status == 204
    assert api.get(contacts_path(practice, sam), practice.admin_token).body["contacts"] == []
    assert api.call("DELETE", path, token=practice.admin_token).status == 404


def test_r25_a_link_records_type_relationship_and_flags(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    lee = add_client(api, practice, "Lee", None, client_type="minor")
    made = link(
        api,
        practice,
        sam,
        {"client_id": lee, "relationship": "child", "emergency_contact": True, "notify": True},
    )
    assert made.status == 201, made.body
    shown = made.body["link"]
    assert (shown["client_type"], shown["relationship"]) == ("minor", "child")
    assert (shown["emergency_contact"], shown["notify"], shown["portal_access"]) == (
        True,
        True,
        None,
    )


def test_r25_a_client_created_on_the_spot_is_linked(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    body = {
        "new_client": {"first_name": "Lee", "last_name": "Rivera", "email": "lee@example.com"},
        "relationship": "spouse",
    }
    made = link(api, practice, sam, body)
    assert made.status == 201, made.body
    new_id = made.body["link"]["linked_client_id"]
    client = api.get(f"/v1/orgs/{practice.id}/clients/{new_id}", practice.admin_token).body
    assert client["client"]["email"] == "lee@example.com"


def test_r25_a_client_created_on_the_spot_and_its_link_are_one_write(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R25 and API.md (never a half-written record): when the link cannot be written, here
    # because the origin profile changed meanwhile, the client made for it is not left behind.
    sam = add_client(api, practice, "Sam", None)
    real_load = links.records.org

    def changed_meanwhile(org_id: str) -> Organization:
        other = ClientProfile.get(practice.id, sam)
        other.phone = "+1 415 555 0199"
        other.save()  # another request changes Sam between our read and our write
        return real_load(org_id)

    monkeypatch.setattr(links.records, "org", changed_meanwhile)
    body = {
        "new_client": {"first_name": "Lee", "last_name": "Rivera", "email": "lee@example.com"},
        "relationship": "spouse",
    }
    refused = link(api, practice, sam, body)
    assert refused.status == 409, refused.body
    listed = api.get(f"/v1/orgs/{practice.id}/clients?status=all", practice.admin_token).body
    assert [c["first_name"] for c in listed["clients"]] == ["Sam"]
    assert identities.find_by_email("lee@example.com") is None


def test_r25_a_link_needs_one_client_and_no_self_link(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    assert link(api, practice, sam, {"relationship": "spouse"}).status == 400
    itself = link(api, practice, sam, {"client_id": sam, "relationship": "spouse"})
    assert itself.status == 400


def test_r26_both_sides_and_the_client_list_show_the_link(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    lee = add_client(api, practice, "Lee", None)
    link_id = link(api, practice, sam, {"client_id": lee, "relationship": "parent"}).body["link"][
        "id"
    ]
    base = f"/v1/orgs/{practice.id}/clients"
    from_lee = api.get(f"{base}/{lee}/links", practice.admin_token).body["links"]
    assert [(x["id"], x["side"], x["origin_client_id"]) for x in from_lee] == [
        (link_id, "linked", sam)
    ]
    listed = {c["id"]: c["links"] for c in api.get(base, practice.admin_token).body["clients"]}
    assert [(x["client_id"], x["side"], x["relationship"]) for x in listed[sam]] == [
        (lee, "origin", "parent")
    ]
    assert [(x["client_id"], x["side"]) for x in listed[lee]] == [(sam, "linked")]


def test_r26_the_client_list_reads_no_item_per_client(
    api: Api, practice: Practice, dynamo_calls
) -> None:
    base = f"/v1/orgs/{practice.id}/clients"
    counts = []
    for n in range(2):
        a, b = add_client(api, practice, f"A{n}", None), add_client(api, practice, f"B{n}", None)
        link(api, practice, a, {"client_id": b, "relationship": "spouse"})
        dynamo_calls.clear()
        assert api.get(base, practice.admin_token).status == 200
        counts.append(len(dynamo_calls.operations))
    assert counts[0] == counts[1], counts


def test_r27_the_other_side_cannot_edit_and_is_told_where(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", None)
    lee = add_client(api, practice, "Lee", None)
    link_id = link(api, practice, sam, {"client_id": lee, "relationship": "parent"}).body["link"][
        "id"
    ]
    wrong = f"/v1/orgs/{practice.id}/clients/{lee}/links/{link_id}"
    for answer in (
        api.patch(wrong, {"notify": True}, practice.admin_token),
        api.call("DELETE", wrong, token=practice.admin_token),
    ):
        assert answer.status == 403
        assert answer.error_code() == "not_link_origin"
        assert sam in answer.body["error"]["message"]
    right = f"/v1/orgs/{practice.id}/clients/{sam}/links/{link_id}"
    assert api.patch(right, {"notify": True}, practice.admin_token).status == 200
    assert api.call("DELETE", right, token=practice.admin_token).status == 204
    listed = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).body["clients"]
    assert all(c["links"] == [] for c in listed)


def test_r29_r34_copy_holders_receive_exactly_the_clients_emails(
    api: Api, practice: Practice
) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    lee = add_client(api, practice, "Lee", "lee@example.com")
    add_copied_parent(api, practice, sam)
    api.post(
        contacts_path(practice, sam),
        {"first_name": "Bo", "last_name": "R", "email": "bo@example.com", "relationship": "other"},
        practice.admin_token,
    )
    link(api, practice, sam, {"client_id": lee, "relationship": "parent", "notify": True})
    book(api, practice, [sam])
    sender = RecordingSender()
    drain(sender)
    sent = sorted(message["to"] for message in sender.sent)
    assert sent == ["ana@example.com", "lee@example.com", "sam@example.com"]
    copy = next(m for m in sender.sent if m["to"] == "ana@example.com")["message"]
    assert "A copy for Ana" in copy.text


def _copy_holders(practice: Practice, client_id: str) -> dict[str, dict[str, str]] | None:
    return ClientProfile.get(practice.id, client_id, consistent_read=True).copy_holders


def test_r29_each_contact_and_link_change_keeps_the_profiles_copy_holders(
    api: Api, practice: Practice
) -> None:
    # Issue #17: the worker reads a client's copy holders from its profile, so every change
    # to a contact or a link writes them there in its own transaction.
    sam = add_client(api, practice, "Sam", "sam@example.com")
    lee = add_client(api, practice, "Lee", "lee@example.com")
    assert _copy_holders(practice, sam) == {}
    added = add_copied_parent(api, practice, sam)
    contact = f"contact:{added.body['contact']['id']}"
    assert _copy_holders(practice, sam) == {
        contact: {"email": "ana@example.com", "first_name": "Ana"}
    }
    path = f"{contacts_path(practice, sam)}/{added.body['contact']['id']}"
    assert api.patch(path, {"email": "ana@new.example"}, practice.admin_token).status == 200
    assert _copy_holders(practice, sam) == {
        contact: {"email": "ana@new.example", "first_name": "Ana"}
    }
    assert api.patch(path, {"notify": False}, practice.admin_token).status == 200
    assert _copy_holders(practice, sam) == {}
    assert api.patch(path, {"notify": True}, practice.admin_token).status == 200
    assert api.call("DELETE", path, token=practice.admin_token).status == 204
    assert _copy_holders(practice, sam) == {}

    made = link(api, practice, sam, {"client_id": lee, "relationship": "parent", "notify": True})
    holder = f"link:{made.body['link']['id']}"
    assert _copy_holders(practice, sam) == {holder: {"client_id": lee}}
    assert _copy_holders(practice, lee) == {}  # the copies are of the origin's emails
    link_path = f"/v1/orgs/{practice.id}/clients/{sam}/links/{made.body['link']['id']}"
    assert api.patch(link_path, {"notify": False}, practice.admin_token).status == 200
    assert _copy_holders(practice, sam) == {}
    assert api.patch(link_path, {"notify": True}, practice.admin_token).status == 200
    assert api.call("DELETE", link_path, token=practice.admin_token).status == 204
    assert _copy_holders(practice, sam) == {}


def test_r29_the_worker_finds_copy_holders_on_the_profile_without_a_query(
    api: Api, practice: Practice, dynamo_calls: Any
) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    add_copied_parent(api, practice, sam)
    book(api, practice, [sam])
    (parent,) = list(EmailJob.by_client.query(f"{practice.id}#{sam}"))
    sender = RecordingSender()
    dynamo_calls.clear()
    assert delivery.deliver(parent.job_id, sender) == "sent"
    assert "Query" not in dynamo_calls.operations
    drain(sender)
    assert sorted(m["to"] for m in sender.sent) == ["ana@example.com", "sam@example.com"]


def test_r29_a_profile_stored_before_its_summary_still_gets_its_copies(
    api: Api, practice: Practice
) -> None:
    # A profile written before `copy_holders` existed has none: the worker reads its partition.
    sam = add_client(api, practice, "Sam", "sam@example.com")
    lee = add_client(api, practice, "Lee", "lee@example.com")
    add_copied_parent(api, practice, sam)
    link(api, practice, sam, {"client_id": lee, "relationship": "parent", "notify": True})
    profile = ClientProfile.get(practice.id, sam, consistent_read=True)
    profile.update(actions=[ClientProfile.copy_holders.remove()])
    assert _copy_holders(practice, sam) is None
    book(api, practice, [sam])
    confirmation = next(iter(EmailJob.by_client.query(f"{practice.id}#{sam}"))).job_id
    sender = RecordingSender()
    drain(sender)
    sent = sorted(m["to"] for m in sender.sent)
    assert sent == ["ana@example.com", "lee@example.com", "sam@example.com"]
    assert {m["job_id"].partition(".")[0] for m in sender.sent} == {confirmation}
    # The backfill then writes the summary the contacts and links would have kept.
    assert backfill_copy_holders.fill_one(practice.id, sam)
    assert set(_copy_holders(practice, sam) or {}) == {
        holders.ref_of(item) for item in copies._partition(f"{practice.id}#{sam}")
    }
    assert not backfill_copy_holders.fill_one(practice.id, sam)  # filled: nothing to do


def test_r41_a_redelivered_email_adds_no_second_copy(api: Api, practice: Practice) -> None:

    sam = add_client(api, practice, "Sam", "sam@example.com")
    add_copied_parent(api, practice, sam)
    book(api, practice, [sam])
    (parent,) = list(EmailJob.by_client.query(f"{practice.id}#{sam}"))
    sam_profile = ClientProfile.get(practice.id, sam, consistent_read=True)
    assert copies.queue_for(parent, sam_profile) == 1
    assert copies.queue_for(parent, sam_profile) == 1  # the same child, not a second one
    sender = RecordingSender()
    drain(sender)
    assert sorted(m["to"] for m in sender.sent) == ["ana@example.com", "sam@example.com"]


def test_r29_r36_a_feature_off_for_the_client_is_off_for_the_copies(
    api: Api, practice: Practice
) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    add_copied_parent(api, practice, sam)
    settings = f"/v1/orgs/{practice.id}/clients/{sam}/portal-settings"
    assert (
        api.call(
            "PUT", settings, {"features": {"appointments": False}}, practice.admin_token
        ).status
        == 200
    )
    book(api, practice, [sam])
    sender = RecordingSender()
    drain(sender)
    assert sender.sent == []
