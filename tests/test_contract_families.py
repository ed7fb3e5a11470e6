"""The family, settings, audit and portal answers match openapi.yaml field for field (API.md),
including the page's answers and the errors they promise (R24–R37, R47, B6)."""

from __future__ import annotations

from tests.support.api import PASSWORD, Api, Practice, give_password
from tests.support.contract import assert_documented
from tests.support.email import book
from tests.support.family import (
    add_client,
    caregiver_session,
    client_session,
    family,
    invite_path,
    link,
    open_page,
    submit,
)

CLIENT = "/v1/orgs/{org_id}/clients/{client_id}"
CONTACTS = CLIENT + "/contacts"
CONTACT = CONTACTS + "/{contact_id}"
LINKS = CLIENT + "/links"
LINK = LINKS + "/{link_id}"


def test_contact_and_link_answers_match_the_document(api: Api, practice: Practice) -> None:
    token = practice.admin_token
    sam = add_client(api, practice, "Sam", "sam@example.com")
    lee = add_client(api, practice, "Lee", None)
    contacts = CONTACTS.format(org_id=practice.id, client_id=sam)
    made = api.post(
        contacts,
        {"first_name": "Ana", "last_name": "R", "relationship": "parent", "notify": True},
        token,
    )
    assert_documented("POST", CONTACTS, made)
    assert_documented("POST", CONTACTS, api.post(contacts, {"first_name": "A"}, token))
    assert_documented("GET", CONTACTS, api.get(contacts, token))
    contact = f"{contacts}/{made.body['contact']['id']}"
    assert_documented("PATCH", CONTACT, api.patch(contact, {"phone": None}, token))
    assert_documented("DELETE", CONTACT, api.call("DELETE", contact, token=token))
    assert_documented("DELETE", CONTACT, api.call("DELETE", contact, token=token))  # 404

    linked = link(api, practice, sam, {"client_id": lee, "relationship": "child"})
    assert_documented("POST", LINKS, linked)
    refused = link(
        api,
        practice,
        sam,
        {"client_id": lee, "relationship": "child", "portal_access": {"acknowledged": True}},
    )
    assert refused.status == 403
    assert_documented("POST", LINKS, refused)
    for client in (sam, lee):
        assert_documented(
            "GET", LINKS, api.get(LINKS.format(org_id=practice.id, client_id=client), token)
        )
    link_id = linked.body["link"]["id"]
    wrong = LINK.format(org_id=practice.id, client_id=lee, link_id=link_id)
    not_origin = api.patch(wrong, {"notify": True}, token)
    assert not_origin.status == 403
    assert_documented("PATCH", LINK, not_origin)
    assert_documented("DELETE", LINK, api.call("DELETE", wrong, token=token))
    right = LINK.format(org_id=practice.id, client_id=sam, link_id=link_id)
    assert_documented("PATCH", LINK, api.patch(right, {"emergency_contact": True}, token))
    clients = api.get(f"/v1/orgs/{practice.id}/clients", token)
    assert_documented("GET", "/v1/orgs/{org_id}/clients", clients)
    assert any(c["links"] for c in clients.body["clients"])
    assert_documented("DELETE", LINK, api.call("DELETE", right, token=token))
    assert_documented("DELETE", LINK, api.call("DELETE", right, token=token))  # 404


def test_settings_and_audit_answers_match_the_document(api: Api, practice: Practice) -> None:
    token = practice.admin_token
    sam = add_client(api, practice, "Sam", None)
    org = "/v1/orgs/{org_id}/portal-settings"
    client = CLIENT + "/portal-settings"
    org_path = org.format(org_id=practice.id)
    client_path = client.format(org_id=practice.id, client_id=sam)
    assert_documented("GET", org, api.get(org_path, token))
    assert_documented("PUT", org, api.call("PUT", org_path, {"features": {"bills": False}}, token))
    assert_documented("GET", client, api.get(client_path, token))
    put = api.call("PUT", client_path, {"login_enabled": False}, token)
    assert_documented("PUT", client, put)
    assert_documented("PUT", client, api.call("PUT", client_path, {"login_enabled": "no"}, token))
    audit = "/v1/orgs/{org_id}/audit"
    first = api.get(f"/v1/orgs/{practice.id}/audit?limit=1", token)
    assert_documented("GET", audit, first)
    assert first.body["next_cursor"]
    assert_documented("GET", audit, api.get(f"/v1/orgs/{practice.id}/audit?client_id={sam}", token))
    assert_documented("GET", audit, api.get(f"/v1/orgs/{practice.id}/audit?limit=0", token))


def test_portal_and_page_answers_match_the_document(api: Api, practice: Practice) -> None:
    fam = family(api, practice, accept=False)
    path = invite_path(practice.id, fam.caregiver)
    page, _, _ = open_page(api, path)
    assert_documented("GET", "/caregiver-invite/{token}", page)
    bad = submit(api, path, {"password": "short", "confirm": "short"})
    assert bad.status == 400
    assert_documented("POST", "/caregiver-invite/{token}", bad)
    accepted = submit(api, path, {"password": PASSWORD, "confirm": PASSWORD})
    assert_documented("POST", "/caregiver-invite/{token}", accepted)
    used, _, _ = open_page(api, path)
    assert_documented("GET", "/caregiver-invite/{token}", used)
    unknown, _, _ = open_page(api, "/caregiver-invite/unknown")
    assert_documented("GET", "/caregiver-invite/{token}", unknown)

    book(api, practice, [fam.receiver])
    give_password("sam@example.com")
    caregiver = caregiver_session(api, fam)
    client = client_session(api, "sam@example.com")
    assert_documented(
        "POST",
        "/v1/portal/journal-entries",
        api.post("/v1/portal/journal-entries", {"text": "Hi"}, caregiver),
    )
    assert_documented(
        "POST", "/v1/portal/journal-entries", api.post("/v1/portal/journal-entries", {}, client)
    )
    for route in (
        "/v1/portal/profile",
        "/v1/portal/settings",
        "/v1/portal/journal-entries",
        "/v1/portal/appointments",
        "/v1/portal/chat",
        "/v1/portal/access-log",
    ):
        assert_documented("GET", route, api.get(route, client))
        assert_documented("GET", route, api.get(route, caregiver))
    assert_documented(
        "GET", "/v1/portal/profile", api.get("/v1/portal/profile", practice.admin_token)
    )
    assert_documented("GET", "/v1/me", api.get("/v1/me", caregiver))
