"""Caregiver access over HTTP on the real local stack (R29, R30, R31): a grant's email reaches
the local outbox, the branded page accepts it in a browser-like session with its CSRF cookie,
the caregiver enters the care receiver's account, gets copies of its emails, and loses the
account the moment the link is removed."""

from __future__ import annotations

from typing import Any

from tests.support.stack import Stack, Visitor, found_in, wait_for_email

PASSWORD = "a caregiver's own password"


def ok(answer: Any, status: int = 200) -> Any:
    """The answer's JSON (an object, or the outbox's list), once its status is `status`."""
    assert answer.status_code == status, answer.text
    return answer.json() if answer.text else {}


def test_a_caregiver_accepts_enters_gets_copies_and_loses_access_at_once(stack: Stack) -> None:
    made = ok(
        stack.call(
            "POST",
            "/v1/orgs",
            {
                "name": "Willow Family Clinic",
                "slug": "willow-e2e",
                "plan": "plus",
                "admin": {
                    "email": "admin@willow-e2e.example",
                    "password": "the admin's password",
                    "first_name": "Ada",
                    "last_name": "Admin",
                },
            },
        ),
        201,
    )
    org, admin = made["org"]["id"], made["token"]
    ok(stack.call("PATCH", f"/v1/orgs/{org}", {"settings": {"caregiver_access": True}}, admin))
    clients = f"/v1/orgs/{org}/clients"
    sam = ok(
        stack.call(
            "POST",
            clients,
            {"first_name": "Sam", "last_name": "Okoro", "email": "sam@willow-e2e.example"},
            admin,
        ),
        201,
    )["client"]["id"]
    jordan = ok(
        stack.call(
            "POST",
            clients,
            {"first_name": "Jordan", "last_name": "Okoro", "email": "jordan@willow-e2e.example"},
            admin,
        ),
        201,
    )["client"]["id"]
    link = ok(
        stack.call(
            "POST",
            f"{clients}/{sam}/links",
            {
                "client_id": jordan,
                "relationship": "parent",
                "notify": True,
                "portal_access": {"acknowledged": True},
            },
            admin,
        ),
        201,
    )["link"]

    (invite,) = wait_for_email(stack, "jordan@willow-e2e.example", "caregiver_invite")
    assert wait_for_email(stack, "jordan@willow-e2e.example", "caregiver_notice")
    path = "/" + found_in(r"https?://[^/\s]+/(caregiver-invite/[\w-]+)", invite["text"])

    browser = Visitor()  # its own cookie jar, as a person's browser
    page = browser.get(stack.base_url + path, timeout=30)
    assert page.status_code == 200, page.text
    assert "Willow Family Clinic" in page.text
    token = found_in(r'name="csrf_token" value="([^"]+)"', page.text)
    accepted = browser.post(
        stack.base_url + path,
        data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert accepted.status_code == 303, accepted.text

    signed_in = ok(
        stack.call(
            "POST",
            "/v1/auth/login",
            {"email": "jordan@willow-e2e.example", "password": PASSWORD},
        )
    )
    (care,) = [a for a in signed_in["accounts"] if a["kind"] == "caregiver"]
    switched = ok(
        stack.call(
            "POST", "/v1/auth/switch", {"account_id": care["account_id"]}, signed_in["token"]
        )
    )
    inside = switched["token"]
    assert ok(stack.call("GET", "/v1/portal/profile", token=inside))["profile"]["id"] == sam

    providers = ok(stack.call("GET", f"/v1/orgs/{org}/providers", token=admin))["providers"]
    ok(
        stack.call(
            "POST",
            f"/v1/orgs/{org}/appointments",
            {
                "provider_id": providers[0]["id"],
                "client_ids": [sam],
                "starts_at": "2099-03-01T10:00:00Z",
                "minutes": 50,
                "type": "Family session",
            },
            admin,
        ),
        201,
    )
    assert wait_for_email(stack, "sam@willow-e2e.example", "appointment_confirmation")
    (copy,) = wait_for_email(stack, "jordan@willow-e2e.example", "appointment_confirmation")
    assert "A copy for Jordan" in copy["text"]

    removed = stack.call("DELETE", f"{clients}/{sam}/links/{link['id']}", token=admin)
    assert removed.status_code == 204, removed.text
    assert stack.call("GET", "/v1/portal/profile", token=inside).status_code == 401
