"""The hand-over code (B9): `POST /v1/auth/exchange` trades a hosted page's one-time code for
the session; single use (R52), 60 seconds, stored only hashed, PKCE (S256) for native apps."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock, ids
from chalicelib.models.tokens import HandOver
from chalicelib.services.identity import handover
from tests.support.api import PASSWORD, Answer, Api, Practice, give_password, sign_up_practice
from tests.support.family import family
from tests.support.family import invite_path as caregiver_invite_path
from tests.support.invites import add_client, invite_path
from tests.support.join import code_of as join_code
from tests.support.join import confirm_path, make_group, sign_up_fields
from tests.support.records import stored
from tests.support.sign_in import (
    PageBrowser,
    challenge_for,
    code_of,
    emailed_link,
    exchange,
    fragment_of,
    header,
    recording_sessions,
)

EMAIL = "ava@example.com"
NEW = "a brand new password"
VERIFIER = "a-native-app-s-own-secret-verifier-of-at-least-43-chars"


@pytest.fixture
def ava(api: Api, practice: Practice) -> dict[str, Any]:
    """A client of the practice with a password: one account, entered at sign-in (R2)."""
    client = add_client(api, practice, EMAIL, send_invite=False)
    give_password(EMAIL)
    return client


def signed_in(api: Api, query: str = "") -> Answer:
    browser = PageBrowser(api)
    browser.get(f"/sign-in{query}")
    answer = browser.post(f"/sign-in{query}", {"email": EMAIL, "password": PASSWORD})
    assert answer.status == 303, answer.raw[:500]
    return answer


def test_b9_a_code_trades_for_the_session_once(api: Api, ava: dict[str, Any]) -> None:
    code = code_of(signed_in(api))
    first = exchange(api, code)
    assert first.status == 200, first.body
    assert first.body["account"]["client_id"] == ava["id"]  # answered as a sign-in is (R2)
    assert set(first.body) == {"token", "account", "accounts"}
    again = exchange(api, code)
    assert again.status == 401
    assert again.error_code() == "invalid_code"
    assert api.get("/v1/me", first.body["token"]).status == 200  # the replay ends nothing


def test_b9_a_code_lives_sixty_seconds(api: Api, ava: dict[str, Any], monkeypatch) -> None:
    code = code_of(signed_in(api))
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert exchange(api, code).error_code() == "invalid_code"


def test_b9_a_code_is_stored_only_as_its_hash(api: Api, ava: dict[str, Any]) -> None:
    code = code_of(signed_in(api))
    item = stored(HandOver, f"handover#{ids.token_hash(code)}")
    assert item is not None
    assert code not in str(item.attribute_values)
    assert item.expires_at - item.created_at == timedelta(seconds=60)


def test_b9_the_session_moves_to_a_new_token_and_the_pages_token_dies(api, ava, monkeypatch):
    # The token the page's process saw is never the portal's: the exchange replaces it.
    started = recording_sessions(monkeypatch)
    traded = exchange(api, code_of(signed_in(api)))
    (page_token,) = started
    assert api.get("/v1/me", page_token).status == 401
    assert api.get("/v1/me", traded.body["token"]).status == 200


def test_r52_the_code_is_claimed_before_anything_else_is_checked(api, ava, monkeypatch):
    # Two exchanges of one code interleaved: the second runs while the first has claimed the
    # code but not yet read the session. It must fail, and the first still succeed.
    code = code_of(signed_in(api))
    seconds: list[Answer] = []
    claim = handover._claim

    def claim_then_race(given: str) -> HandOver | None:
        found = claim(given)
        if not seconds:
            seconds.append(Answer(0, None, {}, b""))  # the racing exchange does not race again
            seconds[0] = exchange(api, given)
        return found

    monkeypatch.setattr(handover, "_claim", claim_then_race)
    first = exchange(api, code)
    assert first.status == 200, first.body
    assert [answer.error_code() for answer in seconds] == ["invalid_code"]


def test_b9_an_account_closed_before_the_exchange_is_not_handed_over(api, practice, ava):
    code = code_of(signed_in(api))
    archived = api.post(
        f"/v1/orgs/{practice.id}/clients/{ava['id']}/archive", {}, practice.admin_token
    )
    assert archived.status == 200
    assert exchange(api, code).status == 401  # R38: read afresh, like any request


@pytest.mark.parametrize(
    "body",
    [{}, {"code": "short"}, {"code": "x" * 101}, {"code": "a b c d e f g h i j k l"}],
)
def test_b9_a_malformed_exchange_is_a_400(api: Api, body: dict[str, str]) -> None:
    assert api.post("/v1/auth/exchange", body).status == 400


def test_b9_an_unknown_code_is_a_401(api: Api) -> None:
    assert exchange(api, ids.new_token()).error_code() == "invalid_code"


# PKCE (OAuth 2.1, RFC 7636) ------------------------------------------------------------------


def _pkce(state: str = "app-state-1") -> str:
    return f"?code_challenge={challenge_for(VERIFIER)}&code_challenge_method=S256&state={state}"


def test_pkce_a_code_bound_to_a_challenge_trades_only_with_its_verifier(api, ava) -> None:
    handed = signed_in(api, _pkce())
    assert fragment_of(handed)["state"] == "app-state-1"  # the app's state comes back as sent
    code = code_of(handed)
    assert exchange(api, code).error_code() == "invalid_code"  # no verifier
    # That try claimed the code: the right verifier is now too late (R52: one try a code).
    assert exchange(api, code, VERIFIER).error_code() == "invalid_code"
    fresh = code_of(signed_in(api, _pkce()))
    assert exchange(api, fresh, VERIFIER + "x").error_code() == "invalid_code"
    right = code_of(signed_in(api, _pkce()))
    traded = exchange(api, right, VERIFIER)
    assert traded.status == 200, traded.body


def test_pkce_a_code_without_a_challenge_refuses_a_verifier(api: Api, ava) -> None:
    # No downgrade: a verifier the sign-in never committed to proves nothing.
    assert exchange(api, code_of(signed_in(api)), VERIFIER).error_code() == "invalid_code"


@pytest.mark.parametrize(
    "query",
    [
        "?code_challenge=too-short&code_challenge_method=S256",
        f"?code_challenge={challenge_for(VERIFIER)}",  # no method
        f"?code_challenge={challenge_for(VERIFIER)}&code_challenge_method=plain",
        "?code_challenge_method=S256",
        "?state=not%20a%20state",
    ],
)
def test_pkce_a_malformed_request_gets_no_sign_in_form(api: Api, query: str) -> None:
    page = PageBrowser(api).get(f"/sign-in{query}")
    assert page.status == 400
    assert b'name="password"' not in page.raw


def test_pkce_the_chooser_keeps_the_apps_request_to_the_hand_over(api, practice, ava) -> None:
    # A second practice's account makes Ava choose; the challenge and the state travel in the
    # pages' own addresses, never in the held cookie.
    add_client(api, sign_up_practice(api, "harbor"), EMAIL, send_invite=False)
    browser = PageBrowser(api)
    browser.get(f"/sign-in{_pkce('s2')}")
    held = browser.post(f"/sign-in{_pkce('s2')}", {"email": EMAIL, "password": PASSWORD})
    location = header(held, "location")
    assert location.startswith("/sign-in/choose?code_challenge=")
    chooser = browser.follow(held)
    account_id = f"client:{practice.id}:{ava['id']}"
    assert account_id in chooser.raw.decode()
    entered = browser.post(location, {"intent": "enter", "account_id": account_id})
    assert fragment_of(entered)["state"] == "s2"
    assert exchange(api, code_of(entered)).error_code() == "invalid_code"  # bound: no verifier


# Every page that signs someone in hands over the same way (B9) -------------------------------


def _carries_none(answers: list[Answer], started: list[str]) -> None:
    assert started, "no session was started: the test walked no sign-in"
    for answer in answers:
        seen = header(answer, "location") + answer.raw.decode(errors="replace")
        assert not [token for token in started if token in seen], header(answer, "location")


def test_b9_the_invite_reset_join_and_caregiver_pages_hand_over_by_code(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No page's Location (fragment included) or body carries a session token: each hands the
    # portal a one-time code, directly or after the chooser or the group's intake forms.
    started = recording_sessions(monkeypatch)
    answers: list[Answer] = []

    invited = add_client(api, practice, "noor@example.com")
    path = invite_path(practice, invited["id"])
    browser = PageBrowser(api)
    answers.append(browser.get(path))
    answers.append(accepted := browser.post(path, {"password": PASSWORD, "confirm": PASSWORD}))
    assert exchange(api, code_of(accepted)).body["account"]["client_id"] == invited["id"]

    reset = _reset_path(api, practice, "noor@example.com")
    answers.append(browser.get(reset))
    answers.append(done := browser.post(reset, {"password": NEW, "confirm": NEW}))
    assert exchange(api, code_of(done)).body["account"]["client_id"] == invited["id"]

    code = join_code(make_group(api, practice))
    joining = PageBrowser(api)
    answers.append(joining.get(f"/join/{code}"))
    answers.append(joined := joining.post(f"/join/{code}", sign_up_fields("leo@example.com")))
    assert b"Check your email" in joined.raw  # R51: the emailed link finishes the sign-up
    confirming = confirm_path(practice, "leo@example.com")
    answers.append(joining.get(confirming))
    answers.append(confirmed := joining.post(confirming, {}))
    answers.append(welcome := joining.follow(confirmed))
    assert b"Continue to your portal" in welcome.raw
    answers.append(handed := joining.post(f"/join/{code}/welcome", {}))
    assert exchange(api, code_of(handed)).body["account"]["kind"] == "client"

    fam = family(api, practice, accept=False)
    accept = caregiver_invite_path(practice.id, fam.caregiver)
    caregiver = PageBrowser(api)
    answers.append(caregiver.get(accept))
    answers.append(held := caregiver.post(accept, {"password": PASSWORD, "confirm": PASSWORD}))
    answers.append(chooser := caregiver.follow(held))
    assert b"Caregiver for Sam Rivera" in chooser.raw  # R2, R30: the new account is listed
    receiver = f"caregiver:{practice.id}:{fam.receiver}:{fam.link_id}"
    answers.append(entered := caregiver.post("/sign-in/choose", {"account_id": receiver}))
    traded = exchange(api, code_of(entered))
    assert traded.body["account"]["on_behalf_of"] == fam.receiver  # R30
    _carries_none(answers, started)


def _reset_path(api: Api, practice: Practice, email: str) -> str:
    """Ask for a reset of `email` and answer the path of the link its email carries (R20)."""
    assert api.post("/v1/auth/password-reset", {"email": email}).status == 202
    return emailed_link(api, email, "password_reset")


def test_b9_a_reset_with_several_accounts_lands_in_the_chooser(
    api: Api, practice: Practice, ava: dict[str, Any]
) -> None:
    add_client(api, sign_up_practice(api, "harbor"), EMAIL, send_invite=False)
    path = _reset_path(api, practice, EMAIL)
    browser = PageBrowser(api)
    browser.get(path)
    done = browser.post(path, {"password": NEW, "confirm": NEW})
    assert header(done, "location") == "/sign-in/choose"
    assert len(re.findall(rb'name="account_id"', browser.follow(done).raw)) == 2


def test_b9_the_join_welcome_without_a_held_session_offers_sign_in(api, practice) -> None:
    code = join_code(make_group(api, practice))
    page = PageBrowser(api).get(f"/join/{code}/welcome")
    assert page.status == 200
    assert b"/sign-in?org=sunrise" in page.raw
    assert b"Continue to your portal" not in page.raw
