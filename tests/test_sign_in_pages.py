"""Hosted sign-in (B9): the sign-in page, the account chooser, the switch page and sign-out,
handing the portal a one-time code (R2, R3, R22, R45, R46, R51).

One world for the module: Evergreen (branded, with a logo, passcodes allowed) and Harbor
(passcodes not allowed); Maya is a client of both, Lee a provider at Evergreen and a client at
Harbor, Ava a client of Evergreen only, and Jordan a caregiver of Sam at Evergreen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib import config
from tests.support.api import (
    PASSWORD,
    Answer,
    Api,
    Practice,
    add_provider,
    give_password,
    sign_up_practice,
)
from tests.support.family import Family, family
from tests.support.sign_in import (
    PageBrowser,
    code_of,
    emailed_code,
    exchange,
    header,
    recording_sessions,
)
from tests.support.worlds import shared_world

LOGO = "https://cdn.evergreen.example/logo.png"
ORIGIN = config.PUBLIC_URL  # the local portal's origin (PORTAL_URL is on the same site)


@dataclass
class World:
    evergreen: Practice
    harbor: Practice
    clients: dict[str, dict[str, str]]  # email -> slug -> client id
    family: Family


def _client(api: Api, practice: Practice, first: str, email: str) -> str:
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": first, "last_name": "Chen", "email": email, "send_invite": False},
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    return answer.body["client"]["id"]


def build(api: Api) -> World:
    evergreen = sign_up_practice(api, "evergreen")
    harbor = sign_up_practice(api, "harbor")
    changed = api.patch(
        f"/v1/orgs/{evergreen.id}",
        {
            "branding": {"display_name": "Evergreen Wellness", "logo_url": LOGO},
            "settings": {"otp_login": True},
        },
        evergreen.admin_token,
    )
    assert changed.status == 200, changed.body
    api.patch(
        f"/v1/orgs/{harbor.id}", {"branding": {"display_name": "Harbor Physio"}}, harbor.admin_token
    )
    fam = family(api, evergreen)  # before a second provider: one names the primary provider
    clients: dict[str, dict[str, str]] = {}
    for practice, slug, first, email in (
        (evergreen, "evergreen", "Maya", "maya@example.com"),
        (harbor, "harbor", "Maya", "maya@example.com"),
        (evergreen, "evergreen", "Ava", "ava@example.com"),
    ):
        clients.setdefault(email, {})[slug] = _client(api, practice, first, email)
    add_provider(api, evergreen, "lee")  # R49: its staff invite accepted, the account open
    clients["lee@evergreen.example"] = {
        "harbor": _client(api, harbor, "Jordan", "lee@evergreen.example")
    }
    for email in ("maya@example.com", "ava@example.com", "lee@evergreen.example"):
        give_password(email)
    return World(evergreen, harbor, clients, fam)


_world_built, world = shared_world("world", build)


def sign_in(browser: PageBrowser, email: str, password: str = PASSWORD, query: str = "") -> Answer:
    page = browser.get(f"/sign-in{query}")
    assert page.status == 200, page.raw[:500]
    return browser.post(
        f"/sign-in{query}", {"intent": "password", "email": email, "password": password}
    )


def text(answer: Answer) -> str:
    return answer.raw.decode()


def account_ids(answer: Answer) -> list[str]:
    return re.findall(r'name="account_id" value="([^"]+)"', text(answer))


# Sign-in and the chooser ------------------------------------------------------------------


def test_b9_r2_a_client_at_two_practices_chooses_and_the_portal_gets_a_code(api: Api, world: World):
    browser = PageBrowser(api)
    signed_in = sign_in(browser, "maya@example.com")
    # R2: two accounts, so the chooser; the session is held in a cookie, never in the URL
    assert signed_in.status == 303
    assert header(signed_in, "location") == "/sign-in/choose"
    chooser = browser.follow(signed_in)
    assert chooser.status == 200
    shown = text(chooser)
    assert "Evergreen Wellness" in shown
    assert "Harbor Physio" in shown
    assert f'src="{LOGO}"' in shown  # the practice's logo (B9)
    assert "Client account: Maya Chen" in shown
    ids = account_ids(chooser)
    harbor = next(i for i in ids if world.harbor.id in i)
    entered = browser.post("/sign-in/choose", {"intent": "enter", "account_id": harbor})
    assert header(entered, "location").startswith(f"{config.PORTAL_URL}#code=")
    traded = exchange(api, code_of(entered))
    assert traded.status == 200, traded.body
    assert traded.body["account"]["account_id"] == harbor
    assert {a["org"]["id"] for a in traded.body["accounts"]} == {
        world.evergreen.id,
        world.harbor.id,
    }
    me = api.get("/v1/me", traded.body["token"])
    assert me.body["account"]["org"]["id"] == world.harbor.id
    # The held session is let go with the hand-over.
    assert "__Host-portico_signin" not in browser.cookies


def test_b9_the_chooser_names_staff_roles_and_caregivers_for_whom(api: Api, world: World):
    lee = PageBrowser(api)
    shown = text(lee.follow(sign_in(lee, "lee@evergreen.example")))
    assert "Staff account (provider)" in shown
    assert "Client account: Jordan Chen" in shown
    jordan = PageBrowser(api)
    shown = text(jordan.follow(sign_in(jordan, world.family.caregiver_email)))
    assert "Caregiver for Sam Rivera" in shown  # R30: whose account the caregiver enters
    assert "Client account: Jordan Rivera" in shown


def test_r2_a_login_with_one_account_enters_it_at_once(api: Api, world: World):
    entered = sign_in(PageBrowser(api), "ava@example.com")
    traded = exchange(api, code_of(entered))
    assert traded.body["account"]["client_id"] == world.clients["ava@example.com"]["evergreen"]


def test_b9_the_held_sign_in_cookie_is_host_only_secure_httponly_and_short_lived(api, world):
    browser = PageBrowser(api)
    sign_in(browser, "maya@example.com")
    held = next(c for c in browser.set_cookies if c.startswith("__Host-portico_signin="))
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in held.split(";")[1:]}
    assert {"path", "secure", "httponly", "samesite", "max-age"} <= set(flags)
    assert "domain" not in flags
    assert flags["path"] == "Path=/"
    assert 0 < int(flags["max-age"].split("=")[1]) <= 15 * 60


def test_r45_r51_a_wrong_password_and_an_unknown_email_answer_the_same_page(api, world):
    wrong = sign_in(PageBrowser(api), "maya@example.com", "not the password")
    unknown = sign_in(PageBrowser(api), "nobody@example.com", "not the password")
    assert wrong.status == unknown.status == 400
    assert "That email and password do not match" in text(wrong)

    def without_csrf(answer: Answer) -> str:
        shown = re.sub(r'value="[^"]*" name|name="csrf_token" value="[^"]*"', "", text(answer))
        return shown.replace("maya@example.com", "EMAIL").replace("nobody@example.com", "EMAIL")

    assert without_csrf(wrong) == without_csrf(unknown)
    assert "portico_signin" not in header(wrong, "set-cookie")


def test_r45_the_page_is_throttled_after_five_failures_of_an_email(api: Api, world: World):
    answers = [
        sign_in(PageBrowser(api), "maya@example.com", "wrong password").status for _ in range(6)
    ]
    assert answers == [400] * 5 + [429]
    right = sign_in(PageBrowser(api), "maya@example.com")
    assert right.status == 429  # the right password too: past the limit nothing is checked
    assert header(right, "retry-after")
    # The page's own answer, the form saying why (not app.py's page for a failure of AWS's)
    assert "<form" in text(right)


def test_b9_org_slug_wears_the_practices_branding_and_otherwise_the_neutral_look(api, world):
    branded = text(PageBrowser(api).get("/sign-in?org=evergreen"))
    assert "Sign in to Evergreen Wellness" in branded
    assert LOGO in branded
    for neutral in ("/sign-in", "/sign-in?org=no-such-practice"):
        shown = text(PageBrowser(api).get(neutral))
        assert "<title>Sign in · Portico</title>" in shown
        assert "Evergreen" not in shown
        assert "Harbor" not in shown


def test_b9_every_field_is_labelled_and_no_page_runs_a_script(api: Api, world: World):
    browser = PageBrowser(api)
    pages = [browser.get("/sign-in?org=evergreen")]
    pages.append(browser.follow(sign_in(browser, "maya@example.com")))
    pages.append(
        PageBrowser(api).post("/sign-in", {"intent": "send_code", "email": "maya@example.com"})
    )
    for page in pages:
        shown = text(page)
        assert "<script" not in shown
        assert "script-src" not in header(page, "content-security-policy")
        for field in re.findall(r'<input id="([^"]+)"', shown):
            assert f'<label for="{field}">' in shown, field


# Passcodes (R22) ----------------------------------------------------------------------------


def test_r22_the_page_offers_a_code_only_where_the_practice_allows_it(api: Api, world: World):
    assert 'value="send_code"' in text(PageBrowser(api).get("/sign-in?org=evergreen"))
    assert 'value="send_code"' not in text(PageBrowser(api).get("/sign-in?org=harbor"))


def test_r22_r51_email_me_a_code_answers_alike_and_the_code_signs_in(api: Api, world: World):
    known = PageBrowser(api)
    known.get("/sign-in?org=evergreen")
    asked = known.post(
        "/sign-in?org=evergreen", {"intent": "send_code", "email": "maya@example.com"}
    )
    stranger = PageBrowser(api)
    stranger.get("/sign-in?org=evergreen")
    other = stranger.post(
        "/sign-in?org=evergreen", {"intent": "send_code", "email": "nobody@example.com"}
    )
    assert asked.status == other.status == 200
    assert "If maya@example.com may sign in with a code" in text(asked)
    assert "If nobody@example.com may sign in with a code" in text(other)
    wrong = known.post(
        "/sign-in?org=evergreen",
        {"intent": "verify_code", "email": "maya@example.com", "code": "000000"},
    )
    assert wrong.status == 400
    code = emailed_code(api, "maya@example.com")
    entered = known.post(
        "/sign-in?org=evergreen",
        {"intent": "verify_code", "email": "maya@example.com", "code": code},
    )
    # R22: the code opens Maya's Evergreen account only (Harbor does not allow codes): entered.
    traded = exchange(api, code_of(entered))
    assert traded.status == 200, traded.body
    assert traded.body["account"]["org"]["id"] == world.evergreen.id
    assert [a["org"]["id"] for a in traded.body["accounts"]] == [world.evergreen.id]


# Switching from the portal and signing out (R3, R46) ---------------------------------------


def _portal_session(api: Api, world: World) -> tuple[str, dict[str, Any]]:
    """Maya in her Evergreen account, as the portal holds her session after a hand-over."""
    browser = PageBrowser(api)
    chooser = browser.follow(sign_in(browser, "maya@example.com"))
    evergreen = next(i for i in account_ids(chooser) if world.evergreen.id in i)
    traded = exchange(api, code_of(browser.post("/sign-in/choose", {"account_id": evergreen})))
    return traded.body["token"], traded.body


def test_r3_the_portal_switches_account_without_the_password(api: Api, world: World):
    token, signed_in = _portal_session(api, world)
    browser = PageBrowser(api)
    opened = browser.post("/sign-in/switch", {"session_token": token}, headers={"origin": ORIGIN})
    assert header(opened, "location") == "/sign-in/choose"
    assert token not in header(opened, "location")
    switcher = browser.follow(opened)
    shown = text(switcher)
    assert "Switch account" in shown
    assert 'aria-current="true"' in shown  # the account the portal is in now
    assert token not in shown
    harbor = next(i for i in account_ids(switcher) if world.harbor.id in i)
    switched = browser.post("/sign-in/choose", {"intent": "enter", "account_id": harbor})
    traded = exchange(api, code_of(switched))
    assert traded.body["account"]["account_id"] == harbor
    assert api.get("/v1/me", token).status == 401  # R3: the old session ended with the switch
    assert signed_in["account"]["org"]["id"] == world.evergreen.id


def test_b9_the_switch_page_takes_a_session_only_from_the_portals_own_origin(api, world):
    token, _ = _portal_session(api, world)
    for origin in ({"origin": "https://evil.example"}, {}):
        refused = PageBrowser(api).post("/sign-in/switch", {"session_token": token}, headers=origin)
        assert refused.status == 403
        assert "portico_signin" not in header(refused, "set-cookie")


def test_r46_signing_out_on_the_switch_page_ends_the_session(api: Api, world: World):
    token, _ = _portal_session(api, world)
    browser = PageBrowser(api)
    browser.follow(
        browser.post("/sign-in/switch", {"session_token": token}, headers={"origin": ORIGIN})
    )
    out = browser.post("/sign-in/choose", {"intent": "sign_out"})
    assert out.status == 200
    assert "You are signed out" in text(out)
    assert "__Host-portico_signin" not in browser.cookies
    assert api.get("/v1/me", token).status == 401
    again = browser.get("/sign-in/choose")
    assert (again.status, header(again, "location")) == (303, "/sign-in")


def test_b9_choosing_needs_the_forms_csrf_pair(api: Api, world: World):
    browser = PageBrowser(api)
    chooser = browser.follow(sign_in(browser, "maya@example.com"))
    browser.csrf = "forged"
    refused = browser.post("/sign-in/choose", {"account_id": account_ids(chooser)[0]})
    assert refused.status == 403


def test_b9_the_chooser_never_offers_an_account_closed_meanwhile(api: Api, world: World):
    browser = PageBrowser(api)
    chooser = browser.follow(sign_in(browser, "maya@example.com"))
    harbor = next(i for i in account_ids(chooser) if world.harbor.id in i)
    client_id = world.clients["maya@example.com"]["harbor"]
    archived = api.post(
        f"/v1/orgs/{world.harbor.id}/clients/{client_id}/archive", {}, world.harbor.admin_token
    )
    assert archived.status == 200
    refused = browser.post("/sign-in/choose", {"intent": "enter", "account_id": harbor})
    assert refused.status == 400
    assert harbor not in account_ids(refused)  # R38: gone from the list at once


def test_b9_no_session_token_passes_through_a_page(api: Api, world: World, monkeypatch):
    # Every token a session starts with is recorded; no page answer may carry one, in its
    # Location (fragments included) or its body.
    started = recording_sessions(monkeypatch)
    answers: list[Answer] = []
    browser = PageBrowser(api)
    answers.append(signed_in := sign_in(browser, "maya@example.com"))
    answers.append(chooser := browser.follow(signed_in))
    answers.append(browser.post("/sign-in/choose", {"account_id": account_ids(chooser)[0]}))
    answers.append(sign_in(PageBrowser(api), "ava@example.com"))
    assert len(started) >= 3
    for answer in answers:
        seen = header(answer, "location") + text(answer)
        assert not [token for token in started if token in seen]
