"""The group link's page in a real browser against the real local stack (R16, R21, R51, B3).

A person opens a group's invite link, signs up, is asked to check their email, opens the
emailed link, finishes, sees the group's intake forms and continues to the portal signed in; a
rotated link shows its 410 page.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.support.api import PASSWORD
from tests.support.stack import Stack, branded_practice, screenshot, wait_for_email

pytestmark = pytest.mark.e2e


def group(stack: Stack, org_id: str, token: str) -> dict[str, Any]:
    answer = stack.call(
        "POST",
        f"/v1/orgs/{org_id}/groups",
        {"name": "Back pain class", "intake_forms": ["Health history", "Consent"]},
        token,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["group"]


def test_r16_a_person_signs_up_through_a_group_link(stack: Stack, page: Any) -> None:
    org_id, token = branded_practice(stack)
    joined = group(stack, org_id, token)
    email = f"noor-{uuid.uuid4().hex[:8]}@example.com"
    opened = page.goto(joined["invite_url"])
    assert opened.status == 200
    assert "Sunrise Physio" in page.content()
    screenshot(page, "join-sign-up")
    page.fill("#first_name", "Noor")
    page.fill("#last_name", "Haddad")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("button[type=submit]")
    page.locator("h1", has_text="Check your email").wait_for()
    (sent,) = wait_for_email(stack, email, "join_confirmation")
    found = re.search(r"http://\S+/join-confirm/\S+", sent["text"])
    assert found, sent["text"]
    confirmation = page.goto(found.group(0))
    assert confirmation.status == 200
    screenshot(page, "join-confirm")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/join/[^/#]+/welcome$"))  # no token in the URL (B9)
    content = page.content()
    assert "Health history" in content
    assert "Consent" in content
    screenshot(page, "join-intake-forms")
    page.click("#portal")  # "Continue to your portal": a one-time code, traded by the portal
    page.wait_for_url(re.compile(r".*/_local/portal$"))
    page.locator("#who", has_text="Signed in as").wait_for()
    assert f"Signed in as {email}" in page.content()
    clients = stack.call("GET", f"/v1/orgs/{org_id}/clients", token=token).json()["clients"]
    (noor,) = [c for c in clients if c["email"] == email]
    assert (noor["source"], noor["group_id"]) == ("group_link", joined["id"])


def test_r16_a_rotated_group_link_shows_its_410_page(stack: Stack, page: Any) -> None:
    org_id, token = branded_practice(stack)
    joined = group(stack, org_id, token)
    rotated = stack.call(
        "POST", f"/v1/orgs/{org_id}/groups/{joined['id']}/invite-link", None, token
    )
    assert rotated.status_code == 200, rotated.text
    opened = page.goto(joined["invite_url"])
    assert opened.status == 410
    assert "Sunrise Physio" in page.content()
    screenshot(page, "join-link-replaced")
