"""Hosted sign-in in a real browser against the real local stack (B9, R2, R3, R22, R45, R52).

Maya (`maya@example.com` in the demo data) is a client at Evergreen and at Harbor: she signs
in, chooses, lands in the portal, switches from it and signs out; she signs in with an emailed
code; a wrong password shows the same page as an unknown email; a code used twice works once.
Each page is photographed at 390 px and 1280 px wide (artifacts/screenshots/).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.api import PASSWORD
from tests.support.concurrency import Call, fresh, tally, together
from tests.support.stack import Stack, screenshots, wait_for_email

pytestmark = pytest.mark.e2e

MAYA = "maya@example.com"
DEMO_PASSWORD = "portico-demo-1"  # scripts/demo_data.py's published password
PORTAL = re.compile(r".*/_local/portal$")


def _tab_to(page: Any, selector: str, text: str = "", presses: int = 12) -> None:
    """Reach the element matching the CSS `selector` (and holding `text`) with the Tab key
    alone: keyboard reachable. Fails the test if Tab never gets there."""
    check = (
        "([s, t]) => document.activeElement.matches(s)"
        " && document.activeElement.textContent.includes(t)"
    )
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(check, [selector, text]):
            return
    pytest.fail(f"{selector} {text!r} is not reachable with Tab")


def _codes_handed_over(page: Any) -> list[str]:
    """Every one-time code a 303 of this page handed the portal (a Location's fragment)."""
    codes: list[str] = []

    def seen(response: Any) -> None:
        found = re.search(r"#code=([A-Za-z0-9_-]+)", response.headers.get("location", ""))
        if found:
            codes.append(found.group(1))

    page.on("response", seen)
    return codes


def _turn_bills_off_for_maya_at_harbor(stack: Stack) -> None:
    """Harbor's admin turns the portal's bills off for Maya's account there (R35, R36)."""
    admin = stack.call(
        "POST", "/v1/auth/login", {"email": "admin@harbor.example", "password": DEMO_PASSWORD}
    ).json()
    org_id, token = admin["account"]["org"]["id"], admin["token"]
    clients = stack.call("GET", f"/v1/orgs/{org_id}/clients", token=token).json()["clients"]
    (maya,) = [c for c in clients if c["email"] == MAYA]
    changed = stack.call(
        "PUT",
        f"/v1/orgs/{org_id}/clients/{maya['id']}/portal-settings",
        {"features": {"bills": False}},
        token,
    )
    assert changed.status_code == 200, changed.text


def test_b9_maya_chooses_an_account_switches_from_the_portal_and_signs_out(
    stack: Stack, page: Any
) -> None:
    _turn_bills_off_for_maya_at_harbor(stack)
    page.goto(f"{stack.base_url}/sign-in")
    screenshots(page, "sign-in")
    _tab_to(page, "#email")
    page.keyboard.type(MAYA)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")  # the form's first button: sign in with the password
    page.wait_for_url(re.compile(r".*/sign-in/choose$"))
    assert "Evergreen Wellness" in page.content()
    assert "Harbor Physio" in page.content()
    screenshots(page, "sign-in-choose")
    _tab_to(page, "button.account", "Harbor Physio")
    page.keyboard.press("Enter")
    page.wait_for_url(PORTAL)  # the fragment's code is gone from the address at once
    who = page.locator("#who", has_text="Harbor Physio")
    who.wait_for()
    assert "client account: Maya Chen" in who.inner_text()
    page.locator("#sections[data-ready]").wait_for()
    assert page.locator("#sections h2", has_text="Appointments").count() == 1
    assert page.locator("#sections h2", has_text="Bills").count() == 0  # off at Harbor (R36)
    assert "#" not in page.url
    screenshots(page, "portal-signed-in")

    page.click("#switch-button")  # "Switch account", at the top of the portal (R3)
    page.wait_for_url(re.compile(r".*/sign-in/choose$"))
    current = page.locator("button[aria-current=true]")
    assert "Harbor Physio" in current.inner_text()
    screenshots(page, "switch-account")
    page.click("button.account:has-text('Evergreen Wellness')")
    page.wait_for_url(PORTAL)
    page.locator("#who", has_text="Evergreen Wellness").wait_for()
    page.locator("#sections[data-ready]").wait_for()
    assert page.locator("#sections h2", has_text="Messages").count() == 1
    assert page.locator("#sections h2", has_text="Bills").count() == 1  # on at Evergreen
    screenshots(page, "portal-switched")

    page.click("#switch-button")
    page.wait_for_url(re.compile(r".*/sign-in/choose$"))
    page.click("text=Sign out")
    assert "You are signed out" in page.content()
    screenshots(page, "signed-out")
    page.goto(f"{stack.base_url}/sign-in/choose")
    assert page.url.endswith("/sign-in")  # nothing is held any more


def test_r22_maya_signs_in_with_an_emailed_code(stack: Stack, page: Any) -> None:
    page.goto(f"{stack.base_url}/sign-in?org=evergreen")
    assert "Sign in to Evergreen Wellness" in page.content()
    screenshots(page, "sign-in-evergreen")
    before = len(wait_for_email(stack, MAYA, "otp_code", count=0))
    page.fill("#email", MAYA)
    page.click("button[value=send_code]")
    page.locator("#code").wait_for()
    screenshots(page, "sign-in-code")
    sent = wait_for_email(stack, MAYA, "otp_code", count=before + 1)[-1]
    code = re.search(r"\b(\d{6})\b", sent["text"])
    assert code, sent["text"]
    page.fill("#code", code.group(1))
    page.click("button[type=submit]")
    page.wait_for_url(PORTAL)
    # R22: a code opens only the accounts of practices that allow codes: Evergreen's.
    page.locator("#who", has_text="Signed in as maya@example.com in Evergreen").wait_for()

    page.goto(f"{stack.base_url}/sign-in?org=evergreen")
    page.fill("#email", MAYA)
    page.click("text=Forgot your password?")  # R20, answered alike for every address (R51)
    page.locator("text=Check your email").wait_for()
    screenshots(page, "sign-in-reset-sent")
    shown = page.goto(f"{stack.base_url}/sign-in?code_challenge=not-a-challenge")
    assert shown is not None
    assert shown.status == 400
    screenshots(page, "sign-in-incomplete")


def test_r45_a_wrong_password_and_a_code_used_twice(stack: Stack, page: Any) -> None:
    page.goto(f"{stack.base_url}/sign-in")
    page.fill("#email", MAYA)
    page.fill("#password", "not her password")
    with page.expect_navigation() as shown:
        page.click("button[value=password]")
    assert shown.value.status == 400
    assert "That email and password do not match" in page.content()
    assert page.locator("#email").input_value() == MAYA  # kept; the password never is
    screenshots(page, "sign-in-wrong-password")

    codes = _codes_handed_over(page)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[value=password]")
    page.wait_for_url(re.compile(r".*/sign-in/choose$"))
    page.click("button.account:has-text('Evergreen Wellness')")
    page.wait_for_url(PORTAL)
    page.locator("#who", has_text="Evergreen Wellness").wait_for()
    (code,) = codes
    # The same code again, as a copied link or the browser's history would bring it.
    replay = page.context.new_page()
    replay.goto(f"{stack.base_url}/_local/portal#code={code}")
    replay.locator("#who", has_text="used already or has expired").wait_for()
    screenshots(replay, "portal-code-used-twice")
    assert code not in stack.log()  # a fragment never reaches the server's log (R48)


def test_r52_two_exchanges_of_one_code_at_once_end_with_one_session(stack: Stack) -> None:
    # No browser: a code from the sign-in page's answer, traded by six requests at once. A
    # practice's new admin has one account, so the page hands over at once (no chooser, whatever
    # other tests did to the demo's people).
    http = stack.http
    email = f"{fresh('exchanger')}@example.com"
    slug = fresh("exchange")
    admin = {"email": email, "password": PASSWORD, "first_name": "Ex", "last_name": "Changer"}
    made = stack.call("POST", "/v1/orgs", {"name": slug, "slug": slug, "admin": admin})
    assert made.status_code == 201, made.text
    shown = http.get(f"{stack.base_url}/sign-in", timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
    assert csrf
    cookie = shown.headers["set-cookie"].split(";", 1)[0]
    answer = http.post(
        f"{stack.base_url}/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)},
        headers={"cookie": cookie},
        allow_redirects=False,
        timeout=60,
    )
    assert answer.status_code == 303, answer.text[:500]
    code = re.search(r"#code=([A-Za-z0-9_-]+)", answer.headers["location"])
    assert code, answer.headers["location"]
    answers = together(stack, [Call("POST", "/v1/auth/exchange", {"code": code.group(1)})] * 6)
    assert tally(answers) == {(200, None): 1, (401, "invalid_code"): 5}
