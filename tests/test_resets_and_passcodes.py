"""Password resets (R9, R20, R46, R47) and one-time passcodes (R22, R45)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.models.emails import EmailJob
from chalicelib.models.tokens import Token
from chalicelib.services import local_stage, outbox, tokens
from chalicelib.services.identity import identities
from chalicelib.services.invites import passcodes, resets
from tests.support.api import PASSWORD, Api, Practice, give_password, login, sign_up_practice
from tests.support.invites import add_client, link_path, open_page, session_of, submit
from tests.support.records import sealed_link, sent_text

NEW = "a brand new password"


def _jobs(org_id: str, kind: str) -> list[EmailJob]:
    """The organization's email jobs of a kind, once the worker has sent what was queued: a
    reset or code asked for on a public form is filed under the login's organization, with
    its link or code, only by the worker (R51)."""
    local_stage.drain()
    return [job for job in EmailJob.by_org.query(org_id) if job.kind == kind]


def _sent_text(org_id: str, kind: str) -> str:
    return sent_text(_jobs(org_id, kind)[-1])


def _reset_path(org_id: str) -> str:
    found = re.search(r"http://\S+/reset/\S+", _sent_text(org_id, "password_reset"))
    assert found
    return link_path(found.group(0))


def _client_with_login(api: Api, practice: Practice, email: str = "maya@example.com") -> dict:
    client = add_client(api, practice, email, send_invite=False)
    give_password(email)
    return client


def test_r20_asking_for_a_reset_answers_202_whether_or_not_the_email_has_a_login(api, practice):
    _client_with_login(api, practice)
    known = api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    unknown = api.post("/v1/auth/password-reset", {"email": "nobody@example.com"})
    assert (known.status, known.body) == (unknown.status, unknown.body) == (202, {})
    assert len(_jobs(practice.id, "password_reset")) == 1


@pytest.mark.parametrize("path", ["/v1/auth/password-reset", "/v1/auth/otp"])
def test_r51_a_request_does_the_same_work_for_known_and_unknown_addresses(
    api: Api, practice: Practice, dynamo_calls: Any, path: str
):
    # R51: resets and passcodes are asked for with the same answer and the same work whether
    # or not the address has a login: the count, the address's link pointer, the link and
    # its job; no look-up of the login, which the worker alone makes. (It once read the login,
    # its accounts and its link first: 5 or 10 DynamoDB calls against 2.)
    _allow_codes(api, practice)
    _client_with_login(api, practice)
    done = []
    for email in ("maya@example.com", "nobody@example.com"):
        dynamo_calls.clear()
        answer = api.post(path, {"email": email})
        done.append((answer.status, answer.raw, list(dynamo_calls.operations)))
    assert done[0] == done[1]
    assert done[0][2] == ["TransactWriteItems", "GetItem", "TransactWriteItems"]
    assert len(_jobs(practice.id, "password_reset" if "reset" in path else "otp_code")) == 1
    (nothing,) = EmailJob.by_org.query(outbox.UNADDRESSED_ORG)  # in no practice's log
    assert (nothing.to, nothing.status, nothing.reason) == (
        "nobody@example.com",
        "suppressed",
        "nothing_to_send",
    )


def test_r51_a_link_or_code_asked_for_before_the_address_had_a_login_opens_nothing(
    api: Api, practice: Practice
):
    # R51, R20, R22: a public form makes the link or code for any address, and the worker
    # sends nothing for one without a login. Should a login be made for the address later,
    # what was made before it (and kept only in the unsent job) opens nothing.
    _allow_codes(api, practice)
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    api.post("/v1/auth/otp", {"email": "maya@example.com"})
    made = {job.kind: sealed_link(job) for job in EmailJob.by_org.query(outbox.UNADDRESSED_ORG)}
    assert local_stage.drain()["suppressed"] == 2
    add_client(api, practice, "maya@example.com", send_invite=False)  # a login, no password
    assert open_page(api, link_path(made["password_reset"]))[0].status == 404
    code = made["otp_code"]
    answer = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert (answer.status, answer.error_code()) == (401, "invalid_code")


def test_r51_a_wrong_code_costs_the_same_for_known_and_unknown_addresses(
    api: Api, practice: Practice, dynamo_calls: Any
):
    # R51, R22: codes are made for any address that asks, and a wrong one is refused after the
    # same work either way (the count, the address's code, its try); the login is read only
    # for a right code. (It once read the login first and the code only for a known address.)
    _allow_codes(api, practice)
    _client_with_login(api, practice)
    done = []
    for email in ("maya@example.com", "nobody@example.com"):
        api.post("/v1/auth/otp", {"email": email})
        (asked,) = [j for j in EmailJob.by_org.query(outbox.UNADDRESSED_ORG) if j.to == email]
        wrong = f"{(int(sealed_link(asked)) + 1) % 10**6:06d}"
        dynamo_calls.clear()
        answer = api.post("/v1/auth/otp/verify", {"email": email, "code": wrong})
        done.append((answer.status, answer.raw, list(dynamo_calls.operations)))
    assert done[0] == done[1]
    assert done[0][0] == 401


def test_r45_reset_requests_are_throttled_per_email(api: Api, practice: Practice):
    answers = [
        api.post("/v1/auth/password-reset", {"email": "nobody@example.com"}).status
        for _ in range(6)
    ]
    assert answers == [202] * 5 + [429]


def test_r20_the_reset_page_sets_a_new_password_and_ends_every_session(api, practice):
    _client_with_login(api, practice)
    old_session = login(api, "maya@example.com").body["token"]
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    path = _reset_path(practice.id)
    page = open_page(api, path)[0]
    assert page.status == 200
    assert practice.org["name"].encode() in page.raw  # R9: the last organization's branding
    short = submit(api, path, {"password": "short", "confirm": "short"})
    assert short.status == 400
    assert b'id="password-error"' in short.raw
    done = submit(api, path, {"password": NEW, "confirm": NEW})
    signed_in = session_of(api, done)  # B9: signed in, handed to the portal by a code
    assert api.get("/v1/me", signed_in).body["account"]["org"]["id"] == practice.id
    assert api.get("/v1/me", old_session).status == 401  # R46
    assert login(api, "maya@example.com", NEW).status == 200
    assert login(api, "maya@example.com", PASSWORD).status == 401
    assert open_page(api, path)[0].status == 410  # used once
    from chalicelib.models.audit import AuditEvent  # noqa: PLC0415

    actions = {e.action for e in AuditEvent.by_org.query(practice.id)}
    assert "password.changed" in actions  # R47


def test_r13_a_newer_reset_kills_the_older_link(api: Api, practice: Practice):
    _client_with_login(api, practice)
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    first = _reset_path(practice.id)
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    assert _reset_path(practice.id) != first  # the worker made the newer link
    page = open_page(api, first)[0]
    assert page.status == 410
    assert b"newer reset link" in page.raw


def test_r9_a_reset_wears_the_last_organizations_branding(api: Api, practice: Practice):
    other = sign_up_practice(api, "moonrise")
    client = add_client(api, other, "maya@example.com", send_invite=False)
    add_client(api, practice, "maya@example.com", send_invite=False)
    give_password("maya@example.com")
    # Staff of the first practice send it; Maya last entered Moonrise (her first profile).
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients/{_first_client_id(api, practice)}/password-reset",
        None,
        practice.admin_token,
    )
    assert answer.status == 202
    assert client["id"]
    page = open_page(api, _reset_path(practice.id))[0]
    assert b"Practice moonrise" in page.raw


def _first_client_id(api: Api, practice: Practice) -> str:
    listed = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token)
    return listed.body["clients"][0]["id"]


# One-time passcodes (R22) ------------------------------------------------------------------------


def _code(org_id: str) -> str:
    found = re.search(r"\b[0-9]{6}\b", _sent_text(org_id, "otp_code"))
    assert found
    return found.group(0)


def _allow_codes(api: Api, practice: Practice) -> None:
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": True}}, practice.admin_token)


def test_r22_no_code_is_sent_where_no_organization_allows_it(api: Api, practice: Practice):
    _client_with_login(api, practice)
    assert api.post("/v1/auth/otp", {"email": "maya@example.com"}).status == 202
    assert _jobs(practice.id, "otp_code") == []


def test_r22_a_code_signs_in_like_a_password_once(api: Api, practice: Practice):
    _allow_codes(api, practice)
    client = _client_with_login(api, practice)
    assert api.post("/v1/auth/otp", {"email": "maya@example.com"}).status == 202
    code = _code(practice.id)
    assert re.fullmatch(r"[0-9]{6}", code)
    answer = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert answer.status == 200, answer.body
    assert answer.body["account"]["client_id"] == client["id"]
    assert api.get("/v1/me", answer.body["token"]).status == 200
    again = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert (again.status, again.error_code()) == (401, "invalid_code")


def test_r22_after_five_wrong_tries_the_code_is_dead(api: Api, practice: Practice):
    _allow_codes(api, practice)
    _client_with_login(api, practice)
    api.post("/v1/auth/otp", {"email": "maya@example.com"})
    code = _code(practice.id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(4):
        answer = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": wrong})
        assert answer.status == 401
    # The fifth try is the right code: allowed. A sixth try would not be.
    live = tokens.live(passcodes.subject_for("maya@example.com"))
    assert live is not None
    assert live.attempts == 4
    live.update([Token.attempts.set(5)])  # one more wrong try, made behind the API
    answer = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert (answer.status, answer.error_code()) == (401, "invalid_code")


def test_r22_a_code_expires_after_ten_minutes(api: Api, practice: Practice):
    _allow_codes(api, practice)
    _client_with_login(api, practice)
    api.post("/v1/auth/otp", {"email": "maya@example.com"})
    code = _code(practice.id)
    live = tokens.live(passcodes.subject_for("maya@example.com"))
    assert live is not None
    assert live.expires_at - live.created_at == timedelta(minutes=10)
    live.update([Token.expires_at.set(clock.now() - timedelta(seconds=1))])
    answer = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert answer.status == 401


def test_r22_the_unknown_email_answers_as_a_wrong_code(api: Api, practice: Practice):
    assert api.post("/v1/auth/otp", {"email": "nobody@example.com"}).status == 202
    answer = api.post("/v1/auth/otp/verify", {"email": "nobody@example.com", "code": "123456"})
    assert (answer.status, answer.error_code()) == (401, "invalid_code")


def test_r20_resets_ttl_is_24_hours(api: Api, practice: Practice):
    _client_with_login(api, practice)
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    local_stage.drain()
    live = tokens.live(resets.subject_for("maya@example.com"))
    assert live is not None
    assert live.expires_at - live.created_at == timedelta(hours=24)


def _identity_of(email: str) -> str:

    identity = identities.find_by_email(email)
    assert identity is not None
    return identity.id


def test_r22_a_passcode_session_enters_only_practices_that_allow_codes(api, practice):
    other = sign_up_practice(api, "moonrise")  # codes not allowed there
    _allow_codes(api, practice)
    add_client(api, other, "maya@example.com", send_invite=False)
    here = _client_with_login(api, practice)
    api.post("/v1/auth/otp", {"email": "maya@example.com"})
    signed_in = api.post(
        "/v1/auth/otp/verify", {"email": "maya@example.com", "code": _code(practice.id)}
    )
    assert signed_in.status == 200, signed_in.body
    assert signed_in.body["account"]["client_id"] == here["id"]
    assert [a["org"]["slug"] for a in signed_in.body["accounts"]] == ["sunrise"]
    token = signed_in.body["token"]
    password_accounts = login(api, "maya@example.com").body["accounts"]
    elsewhere = next(a for a in password_accounts if a["org"]["slug"] == "moonrise")
    refused = api.post("/v1/auth/switch", {"account_id": elsewhere["account_id"]}, token)
    assert (refused.status, refused.error_code()) == (404, "account_not_found")
    assert [a["org"]["slug"] for a in api.get("/v1/me", token).body["accounts"]] == ["sunrise"]


def test_r22_staff_accounts_never_sign_in_with_a_code(api: Api, practice: Practice):
    _allow_codes(api, practice)
    assert api.post("/v1/auth/otp", {"email": practice.admin_email}).status == 202
    assert _jobs(practice.id, "otp_code") == []


# R13, R20, R22: any password set supersedes the login's outstanding resets and passcodes ---------


def _reset_page_after(api: Api, practice: Practice, set_another_way) -> bytes:
    """Ask for a reset, set the password another way, open the reset link: its page."""
    assert api.post("/v1/auth/password-reset", {"email": "maya@example.com"}).status == 202
    path = _reset_path(practice.id)
    set_another_way()
    page = open_page(api, path)[0]
    assert page.status == 410, page.raw[:300]
    assert not resets.redeem(path.rsplit("/", 1)[1], NEW, NEW).done  # the form's own call
    assert login(api, "maya@example.com", NEW).status == 401
    return page.raw


def test_r13_r20_a_password_an_admin_sets_kills_an_outstanding_reset_link(api, practice):
    client = _client_with_login(api, practice)

    def admin_sets() -> None:
        answer = api.post(
            f"/v1/orgs/{practice.id}/clients/{client['id']}/password",
            {"password": "set by the admin"},
            practice.admin_token,
        )
        assert answer.status == 200

    page = _reset_page_after(api, practice, admin_sets)
    assert b"set another way" in page
    assert login(api, "maya@example.com", "set by the admin").status == 200


def test_r13_r20_a_password_set_through_an_invite_kills_an_outstanding_reset_link(api, practice):
    client = add_client(api, practice, "maya@example.com")  # invited, no password yet
    path = link_path(
        sealed_link(next(j for j in _jobs(practice.id, "invite") if j.client_id == client["id"]))
    )

    def accepts_the_invite() -> None:
        assert submit(api, path, {"password": PASSWORD, "confirm": PASSWORD}).status == 303

    _reset_page_after(api, practice, accepts_the_invite)
    assert login(api, "maya@example.com").status == 200


def test_r22_a_password_set_another_way_kills_an_outstanding_passcode(api, practice):
    _allow_codes(api, practice)
    client = _client_with_login(api, practice)
    api.post("/v1/auth/otp", {"email": "maya@example.com"})
    code = _code(practice.id)
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients/{client['id']}/password",
        {"password": "set by the admin"},
        practice.admin_token,
    )
    assert answer.status == 200
    verify = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert (verify.status, verify.error_code()) == (401, "invalid_code")


def test_r22_a_reset_kills_an_outstanding_passcode_but_not_itself(api, practice):
    _allow_codes(api, practice)
    _client_with_login(api, practice)
    api.post("/v1/auth/otp", {"email": "maya@example.com"})
    code = _code(practice.id)
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    assert submit(api, _reset_path(practice.id), {"password": NEW, "confirm": NEW}).status == 303
    verify = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": code})
    assert (verify.status, verify.error_code()) == (401, "invalid_code")
    assert login(api, "maya@example.com", NEW).status == 200
