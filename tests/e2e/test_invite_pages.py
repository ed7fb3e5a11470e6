"""Invite, staff invite and reset pages in a real browser against the real local stack (R13,
R15, R20, R48, R49, B2).

A person opens the invite from the local outbox, sets a password and lands in the portal signed
in (a one-time code handed over, B9); an older link shows its 410 page, from which a client or a
provider asks the practice for a new one (B2); the reset page changes the password and signs
in; two tabs redeeming one link end with one success; the stack's log never holds a link's
secret.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

import pytest
import requests

from tests.support.api import PASSWORD
from tests.support.stack import Stack, Visitor, branded_practice, screenshot, wait_for_email

pytestmark = pytest.mark.e2e

NEW = "a brand new password"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/(invite|reset|staff-invite)/[A-Za-z0-9_-]+")


def add_client(stack: Stack, org_id: str, token: str) -> tuple[str, str]:
    email = f"maya-{uuid.uuid4().hex[:8]}@example.com"
    answer = stack.call(
        "POST",
        f"/v1/orgs/{org_id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": email},
        token,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["client"]["id"], email


def link_in(email: dict[str, Any]) -> str:
    found = LINK.search(email["text"])
    assert found, email["text"]
    return found.group(0)


def test_r15_a_person_accepts_an_invite_and_lands_signed_in(stack: Stack, page: Any) -> None:
    org_id, token = branded_practice(stack)
    client_id, email = add_client(stack, org_id, token)
    link = link_in(wait_for_email(stack, email, "invite")[0])
    opened = page.goto(link)
    assert opened.status == 200
    assert "Sunrise Physio" in page.content()
    screenshot(page, "invite-set-password")
    page.fill("#password", "short")
    page.fill("#confirm", "different")
    page.click("button[type=submit]")
    assert page.locator("#password-error").is_visible()
    screenshot(page, "invite-form-errors")
    page.fill("#password", NEW)
    page.fill("#confirm", NEW)
    page.click("button[type=submit]")
    # B9: the portal gets a one-time code, trades it and drops it from the address at once.
    page.wait_for_url(re.compile(r".*/_local/portal$"))
    page.locator("#who", has_text="Signed in as").wait_for()
    assert f"Signed in as {email} in Sunrise" in page.content()
    session = page.evaluate("sessionStorage.getItem('portico_session')")
    me = stack.call("GET", "/v1/me", token=session)
    assert me.status_code == 200, me.text
    assert me.json()["account"]["client_id"] == client_id
    screenshot(page, "portal-signed-in")
    used = page.goto(link)
    assert used.status == 410
    screenshot(page, "invite-used")


def invite_provider(stack: Stack, org_id: str, token: str) -> tuple[str, str]:
    """An admin adds Grace Mensah (R49: `invited`): her provider id and her staff invite's
    link, from the local outbox."""
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    added = stack.call(
        "POST",
        f"/v1/orgs/{org_id}/providers",
        {"email": email, "first_name": "Grace", "last_name": "Mensah"},
        token,
    )
    assert added.status_code == 201, added.text
    assert added.json()["provider"]["status"] == "invited"
    link = link_in(wait_for_email(stack, email, "staff_invite")[0])
    assert "/staff-invite/" in link
    return added.json()["provider"]["id"], link


def test_r13_a_superseded_link_shows_its_410_page(stack: Stack, page: Any) -> None:
    org_id, token = branded_practice(stack)
    client_id, email = add_client(stack, org_id, token)
    first = link_in(wait_for_email(stack, email, "invite")[0])
    resent = stack.call("POST", f"/v1/orgs/{org_id}/clients/{client_id}/invite", None, token)
    assert resent.status_code == 202, resent.text
    opened = page.goto(first)
    assert opened.status == 410
    assert "replaced by a newer invitation" in page.content()
    screenshot(page, "invite-superseded")
    page.click("button[type=submit]")  # B2: ask the practice for a new one
    assert "on its way" in page.content()
    screenshot(page, "invite-renewal-requested")


def test_r20_the_reset_page_changes_the_password(stack: Stack, page: Any) -> None:
    org_id, token = branded_practice(stack)
    _, email = add_client(stack, org_id, token)
    invite = link_in(wait_for_email(stack, email, "invite")[0])
    page.goto(invite)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/_local/portal$"))

    asked = stack.call("POST", "/v1/auth/password-reset", {"email": email})
    assert asked.status_code == 202
    link = link_in(wait_for_email(stack, email, "password_reset")[0])
    opened = page.goto(link)
    assert opened.status == 200
    screenshot(page, "reset-form")
    page.fill("#password", NEW)
    page.fill("#confirm", NEW)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/_local/portal$"))  # signed in with it (B9)
    page.locator("#who", has_text=f"Signed in as {email}").wait_for()
    screenshot(page, "reset-done")
    signed_in = stack.call("POST", "/v1/auth/login", {"email": email, "password": NEW})
    assert signed_in.status_code == 200


def test_r13_two_tabs_redeeming_one_link_at_once_end_with_one_success(stack: Stack) -> None:
    org_id, token = branded_practice(stack)
    _, email = add_client(stack, org_id, token)
    link = link_in(wait_for_email(stack, email, "invite")[0])
    tabs = []
    for _ in range(2):
        tab = Visitor()
        shown = tab.get(link, timeout=30)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
        assert csrf
        tabs.append((tab, csrf.group(1)))
    statuses: list[int] = []
    start = threading.Barrier(2)

    def redeem(tab: Visitor, csrf: str) -> None:
        start.wait()
        answer = tab.post(
            link,
            data={"password": NEW, "confirm": NEW, "csrf_token": csrf},
            allow_redirects=False,
            timeout=60,
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=redeem, args=tab) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 410]


def test_r48_the_stacks_log_never_holds_a_links_secret(stack: Stack) -> None:
    org_id, token = branded_practice(stack)
    _, email = add_client(stack, org_id, token)
    link = link_in(wait_for_email(stack, email, "invite")[0])
    assert requests.get(link, timeout=30).status_code == 200
    secret = link.rsplit("/", 1)[1]
    log = stack.log()
    assert "/invite/[redacted]" in log
    assert secret not in log


def test_r49_a_provider_accepts_a_staff_invite_and_is_signed_in_until_deactivated(
    stack: Stack, page: Any
) -> None:
    # R49: the branded staff invite page sets the password and opens the staff account; a
    # deactivation ends that session at its next request.
    org_id, token = branded_practice(stack)
    provider_id, link = invite_provider(stack, org_id, token)
    opened = page.goto(link)
    assert opened.status == 200
    assert "Sunrise" in page.content()
    page.fill("#password", NEW)
    page.fill("#confirm", NEW)
    screenshot(page, "staff-invite-set-password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/_local/portal$"))  # the code traded, gone (B9)
    page.locator("#who", has_text="staff account").wait_for()
    session = page.evaluate("sessionStorage.getItem('portico_session')")
    me = stack.call("GET", "/v1/me", None, session)
    assert me.json()["account"]["kind"] == "staff"
    gone = stack.call("POST", f"/v1/orgs/{org_id}/providers/{provider_id}/deactivate", {}, token)
    assert gone.status_code == 200, gone.text
    assert stack.call("GET", "/v1/me", None, session).status_code == 401
    assert page.goto(link).status == 410  # used once


def test_b2_a_replaced_staff_invite_asks_the_practices_admin_for_a_new_one(
    stack: Stack, page: Any
) -> None:
    # B2 (R49's invites as R13's): the replaced link's branded 410 page asks the practice; its
    # admin receives the branded request naming the provider
    org_id, token = branded_practice(stack)
    provider_id, first = invite_provider(stack, org_id, token)
    resent = stack.call("POST", f"/v1/orgs/{org_id}/providers/{provider_id}/invite", None, token)
    assert resent.status_code == 202, resent.text
    opened = page.goto(first)
    assert opened.status == 410
    assert "replaced by a newer invitation" in page.content()
    screenshot(page, "staff-invite-superseded")
    page.click("button[type=submit]")
    assert "on its way" in page.content()
    screenshot(page, "staff-invite-renewal-requested")
    admin = stack.call("GET", "/v1/me", None, token).json()["identity"]["email"]
    [told] = wait_for_email(stack, admin, "staff_invite_requested")
    assert told["subject"] == "Grace Mensah asks for a new staff invitation"
    assert "a newer invitation replaced it" in told["text"]
