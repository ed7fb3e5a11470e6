"""R16, B3, R23: the group invite link's pages, sign-up and sign-in into the group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.models.audit import AuditEvent
from chalicelib.models.orgs import Group
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import chat
from chalicelib.services.clients import joining
from chalicelib.services.practices import orgs
from tests.support.api import (
    PASSWORD,
    Answer,
    Api,
    Practice,
    add_provider,
    give_password,
    login,
    sign_up_practice,
)
from tests.support.join import NEW_PASSWORD, Browser, code_of, make_group, sign_up_fields
from tests.support.records import identity_of as stored_identity
from tests.support.records import stored


def location(answer: Answer) -> str:
    return {k.lower(): v for k, v in answer.headers.items()}["location"]


def test_a_new_client_signs_up_into_the_group_and_is_signed_in(api: Api, practice: Practice):
    # R16: name, email, password → a client of the group (source group_link), active, with a
    # session; then 303 to the page of the group's intake forms, the token in the fragment.
    group = make_group(api, practice)
    code = code_of(group)
    browser = Browser(api)
    page = browser.get(f"/join/{code}")
    assert page.status == 200
    assert b"Practice sunrise" in page.raw  # the practice's branding
    answer = browser.post(f"/join/{code}", sign_up_fields())
    assert answer.status == 303, answer.raw[:500]
    where, _, fragment = location(answer).partition("#")
    assert where == f"/join/{code}/welcome"
    token = fragment.removeprefix("token=")
    me = api.get("/v1/me", token)
    assert me.status == 200
    assert me.body["account"]["kind"] == "client"
    client_id = me.body["account"]["client_id"]
    client = api.get(f"/v1/orgs/{practice.id}/clients/{client_id}", practice.admin_token).body
    assert client["client"]["group_id"] == group["id"]
    assert client["client"]["source"] == "group_link"
    assert client["client"]["status"] == "active"
    assert login(api, "maya@example.com", NEW_PASSWORD).status == 200  # the login is active
    welcome = browser.get(f"/join/{code}/welcome")
    assert welcome.status == 200
    assert b"Health history" in welcome.raw
    assert b"Consent" in welcome.raw


def test_the_first_activation_posts_the_welcome_message(api: Api, practice: Practice) -> None:
    # R21: the organization's welcome text, from the primary provider, once activated.
    api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"welcome_message": {"enabled": True, "text": "Welcome aboard!"}}},
        practice.admin_token,
    )
    code = code_of(make_group(api, practice))
    answer = Browser(api).post(f"/join/{code}", sign_up_fields())
    token = location(answer).split("#token=")[1]
    account = api.get("/v1/me", token).body["account"]
    profile = stored(ClientProfile, practice.id, account["client_id"])
    assert profile.activated_at is not None
    assert [m.text for m in chat.messages(profile)] == ["Welcome aboard!"]


def test_the_sign_up_is_audited(api: Api, practice: Practice) -> None:
    # R47: the arrival by link is an audit event of the new client.
    group = make_group(api, practice)
    answer = Browser(api).post(f"/join/{code_of(group)}", sign_up_fields())
    token = location(answer).split("#token=")[1]
    client_id = api.get("/v1/me", token).body["account"]["client_id"]
    (event,) = AuditEvent.query(AuditEvent.subject_for(practice.id, client_id))
    assert event.action == "client.added"
    assert event.details == {"source": "group_link", "group_id": group["id"]}


def test_form_errors_are_shown_beside_their_fields_with_400(api: Api, practice: Practice):
    # API.md: a form with errors is shown again with 400, each error beside its field.
    code = code_of(make_group(api, practice))
    answer = Browser(api).post(
        f"/join/{code}",
        sign_up_fields(email="not-an-email", first_name="", password_confirm="other password"),
    )
    assert answer.status == 400
    text = answer.raw.decode()
    assert text.count('class="field-error"') == 3
    assert "type the same password twice" in text
    assert NEW_PASSWORD not in text  # passwords are never shown again
    assert login(api, "maya@example.com", NEW_PASSWORD).status == 401  # nothing was made


def test_a_post_without_the_csrf_token_is_refused(api: Api, practice: Practice) -> None:
    # API.md: forms post back with a CSRF token; without it, 403 and nothing is written.
    code = code_of(make_group(api, practice))
    answer = Browser(api).post(f"/join/{code}", sign_up_fields(), token="forged")
    assert answer.status == 403
    assert login(api, "maya@example.com", NEW_PASSWORD).status == 401


def test_a_rotated_link_answers_410_saying_it_was_replaced(api: Api, practice: Practice):
    # R16: rotating kills the old code; its page says the link was replaced.
    group = make_group(api, practice)
    old = code_of(group)
    api.post(f"/v1/orgs/{practice.id}/groups/{group['id']}/invite-link", None, practice.admin_token)
    browser = Browser(api)
    page = browser.get(f"/join/{old}")
    assert page.status == 410
    assert b"replaced" in page.raw
    assert b"Practice sunrise" in page.raw


def test_an_expired_link_answers_410(api: Api, practice: Practice, monkeypatch) -> None:
    # B3: a link past its expiry takes no sign-ups.
    expiry = datetime.now(UTC) + timedelta(days=1)
    code = code_of(make_group(api, practice, link_expires_at=expiry.isoformat()))
    later = expiry + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    page = Browser(api).get(f"/join/{code}")
    assert page.status == 410
    assert b"expired" in page.raw


def test_a_full_link_answers_410_and_the_count_cannot_pass_the_maximum(api: Api, practice):
    # B3: at most link_max_signups sign-ups; the next one is refused.
    group = make_group(api, practice, link_max_signups=1)
    code = code_of(group)
    late = Browser(api)
    assert late.get(f"/join/{code}").status == 200  # opened while the link was open
    assert Browser(api).post(f"/join/{code}", sign_up_fields()).status == 303
    answer = late.post(f"/join/{code}", sign_up_fields("noor@example.com"), fresh=False)
    assert answer.status == 410
    assert b"full" in answer.raw
    saved = stored(Group, practice.id, Group.sk_for(group["id"]))
    assert saved.signups == 1


def test_the_count_is_checked_in_the_sign_ups_own_transaction(api: Api, practice: Practice):
    # B3: two sign-ups that both read the link as open: the second one's write fails whole.
    group = make_group(api, practice, link_max_signups=1)
    code = code_of(group)
    first = joining.open_link(code)
    second = joining.open_link(code)  # read before the first sign-up commits
    joining.sign_up(
        first,
        first_name="A",
        last_name="B",
        email="a@example.com",
        password=NEW_PASSWORD,
        source="1.1.1.1",
    )
    with pytest.raises(joining.LinkClosed) as closed:
        joining.sign_up(
            second,
            first_name="C",
            last_name="D",
            email="c@example.com",
            password=NEW_PASSWORD,
            source="1.1.1.2",
        )
    assert closed.value.reason == "full"
    assert stored(Group, practice.id, Group.sk_for(group["id"])).signups == 1
    assert login(api, "c@example.com", NEW_PASSWORD).status == 401  # nothing half-written


def test_sign_ups_that_read_the_link_together_both_land(api: Api, practice: Practice):
    # B3, R16: the count is guarded by the link's own condition (live, unexpired, below the
    # maximum), not by the group's version: two sign-ups that read the group before either
    # commits both land while there is room (issue #11: the version must not serialize them).
    group = make_group(api, practice, link_max_signups=5)
    code = code_of(group)
    first = joining.open_link(code)
    second = joining.open_link(code)  # read before the first sign-up commits
    for link, email in ((first, "a@example.com"), (second, "c@example.com")):
        joining.sign_up(
            link,
            first_name="A",
            last_name="B",
            email=email,
            password=NEW_PASSWORD,
            source="1.1.1.1",
        )
    assert stored(Group, practice.id, Group.sk_for(group["id"])).signups == 2
    assert login(api, "c@example.com", NEW_PASSWORD).status == 200


def test_a_group_patch_read_before_a_sign_up_cannot_roll_the_count_back(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # B3 (at most link_max_signups sign-ups): a group PATCH that read the group before a
    # sign-up committed must not write the old count back, which would let one more sign up.
    # It answers 409 `concurrent_change` (issue #11; why 409 and not a retry: tests/test_orgs.py).
    group = make_group(api, practice, link_max_signups=1)
    code = code_of(group)
    late = Browser(api)
    assert late.get(f"/join/{code}").status == 200  # opened while the link was open
    stale = orgs.group_of(practice.id, group["id"])  # the PATCH reads the group ...
    assert Browser(api).post(f"/join/{code}", sign_up_fields()).status == 303  # ... a sign-up ...
    with monkeypatch.context() as patched:  # ... then the PATCH writes
        patched.setattr(orgs, "group_of", lambda *args: stale)
        answer = api.patch(
            f"/v1/orgs/{practice.id}/groups/{group['id']}",
            {"name": "Evenings"},
            practice.admin_token,
        )
    assert (answer.status, answer.error_code()) == (409, "concurrent_change"), answer.body
    assert stored(Group, practice.id, Group.sk_for(group["id"])).signups == 1
    refused = late.post(f"/join/{code}", sign_up_fields("noor@example.com"), fresh=False)
    assert refused.status == 410
    assert b"full" in refused.raw


def test_an_unknown_code_answers_a_neutral_404(api: Api, practice: Practice) -> None:
    # API.md: an unknown link answers 404, in no practice's branding.
    page = Browser(api).get("/join/this-code-does-not-exist")
    assert page.status == 404
    assert b"Practice sunrise" not in page.raw


def test_an_existing_login_signs_in_and_adds_this_practices_account(api: Api, practice):
    # R16, R23: the page explains and asks for that login's password, then adds a profile in
    # the group to the same login; the login now lists both accounts (R2).
    other = sign_up_practice(api, "moonrise")
    api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        other.admin_token,
    )
    give_password("maya@example.com")
    code = code_of(make_group(api, practice))
    browser = Browser(api)
    asked = browser.post(f"/join/{code}", sign_up_fields())
    assert asked.status == 200
    assert b"already has a login" in asked.raw
    assert b'value="sign_in"' in asked.raw
    assert b"moonrise" not in asked.raw.lower()  # R4: nothing about the other practice
    wrong = browser.post(
        f"/join/{code}", {**sign_up_fields(), "step": "sign_in", "password": "wrong password"}
    )
    assert wrong.status == 400
    joined = browser.post(
        f"/join/{code}", {**sign_up_fields(), "step": "sign_in", "password": PASSWORD}
    )
    assert joined.status == 303, joined.raw[:400]
    token = location(joined).split("#token=")[1]
    assert api.get("/v1/me", token).body["account"]["org"]["id"] == practice.id
    assert len(login(api, "maya@example.com").body["accounts"]) == 2


def test_a_staff_address_is_explained_not_joined(api: Api, practice: Practice) -> None:
    # R23, R12: that address is a staff account of the practice.
    code = code_of(make_group(api, practice))
    browser = Browser(api)
    fields = {**sign_up_fields(practice.admin_email), "step": "sign_in", "password": PASSWORD}
    answer = browser.post(f"/join/{code}", fields)
    assert answer.status == 409
    assert b"staff account" in answer.raw


def test_an_active_client_of_the_practice_is_told_to_sign_in(api: Api, practice: Practice):
    # R23: already an active client of this practice: sign in; use the practice's invite link.
    api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        practice.admin_token,
    )
    give_password("maya@example.com")
    code = code_of(make_group(api, practice))
    fields = {**sign_up_fields(), "step": "sign_in", "password": PASSWORD}
    answer = Browser(api).post(f"/join/{code}", fields)
    assert answer.status == 409
    assert b"already an active client" in answer.raw
    assert b"invite link" in answer.raw


def test_a_login_without_a_password_is_sent_to_its_invitation(api: Api, practice: Practice):
    # R23: an invited client who never set a password cannot sign in here; the page says how.
    other = sign_up_practice(api, "moonrise")
    api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        other.admin_token,
    )
    code = code_of(make_group(api, practice))
    answer = Browser(api).post(f"/join/{code}", sign_up_fields())
    assert answer.status == 200
    assert b"password-reset email" in answer.raw


def test_the_groups_default_provider_holds_the_new_client(api: Api, practice: Practice):
    # R10: else the group's default_provider_id.
    add_provider(api, practice, "lee")
    kim = add_provider(api, practice, "kim")
    code = code_of(make_group(api, practice, default_provider_id=kim["id"]))
    answer = Browser(api).post(f"/join/{code}", sign_up_fields())
    token = location(answer).split("#token=")[1]
    client_id = api.get("/v1/me", token).body["account"]["client_id"]
    assert stored(ClientProfile, practice.id, client_id).primary_provider_id == kim["id"]


def test_the_session_token_is_never_in_a_server_visible_place(api: Api, practice, caplog):
    # R48, R46: the token rides only in the fragment; logs and the pages never carry it.
    code = code_of(make_group(api, practice))
    browser = Browser(api)
    answer = browser.post(f"/join/{code}", sign_up_fields())
    token = location(answer).split("#token=")[1]
    welcome = browser.get(f"/join/{code}/welcome")
    assert token.encode() not in welcome.raw
    assert token not in caplog.text
    assert "maya@example.com" not in caplog.text
    headers = {k.lower(): v for k, v in welcome.headers.items()}
    assert headers["referrer-policy"] == "no-referrer"
    assert "script-src 'sha256-" in headers["content-security-policy"]


def test_r50_a_join_sign_ups_password_opens_only_that_practice(api: Api, practice: Practice):
    # R50: the password chosen on the join page is nobody's proof of the mailbox: another
    # practice's account added to that login later is not opened by it.
    code = code_of(make_group(api, practice))
    assert Browser(api).post(f"/join/{code}", sign_up_fields()).status == 303
    assert stored_identity("maya@example.com").password_org_id == practice.id
    other = sign_up_practice(api, "moonrise")
    added = api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        other.admin_token,
    )
    assert added.status == 201
    accounts = login(api, "maya@example.com", NEW_PASSWORD).body["accounts"]
    assert {a["org"]["slug"] for a in accounts} == {"sunrise"}


def test_r50_a_password_set_at_another_practice_cannot_join_this_one(api: Api, practice):
    # R50, R23: Moonrise's admin set the login's password (R8): it opens Moonrise only, so the
    # join page's sign-in refuses it as a wrong password, and no profile is added.
    other = sign_up_practice(api, "moonrise")
    made = api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        other.admin_token,
    ).body["client"]
    api.post(
        f"/v1/orgs/{other.id}/clients/{made['id']}/password",
        {"password": PASSWORD},
        other.admin_token,
    )
    code = code_of(make_group(api, practice))
    fields = {**sign_up_fields(), "step": "sign_in", "password": PASSWORD}
    answer = Browser(api).post(f"/join/{code}", fields)
    assert answer.status == 400
    listed = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).body["clients"]
    assert listed == []
