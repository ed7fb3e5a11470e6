"""R16, B3, R23, R51, R52: the group invite link's pages, sign-up (confirmed by email) and
sign-in into the group."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock, config
from chalicelib.errors import Throttled
from chalicelib.models.audit import AuditEvent
from chalicelib.models.orgs import Group
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import chat
from chalicelib.services.clients import joining
from chalicelib.services.identity import identities
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
from tests.support.concurrency import at_once, count_verifications
from tests.support.email import email_log
from tests.support.invites import submit
from tests.support.join import (
    NEW_PASSWORD,
    Browser,
    code_of,
    confirm,
    confirm_in,
    confirm_path,
    confirmation_jobs,
    join,
    join_session,
    make_group,
    sign_up_fields,
)
from tests.support.records import identity_of as stored_identity
from tests.support.records import sent_text, stored


def location(answer: Answer) -> str:
    return {k.lower(): v for k, v in answer.headers.items()}["location"]


def test_r16_a_new_client_signs_up_confirms_by_email_and_is_signed_in(api, practice):
    # R16, R51: name, email, password → "check your email"; the emailed link's button → a
    # client of the group (source group_link), active, with a session; then 303 to the page of
    # the group's intake forms, the session held (B9). Nothing exists before the link.
    group = make_group(api, practice)
    code = code_of(group)
    browser = Browser(api)
    page = browser.get(f"/join/{code}")
    assert page.status == 200
    assert b"Practice sunrise" in page.raw  # the practice's branding
    asked = browser.post(f"/join/{code}", sign_up_fields())
    assert asked.status == 200, asked.raw[:500]
    assert b"Check your email" in asked.raw
    assert identities.find_by_email("maya@example.com") is None  # nothing made yet
    opened = api.call("GET", confirm_path(practice, "maya@example.com"))
    assert opened.status == 200
    assert identities.find_by_email("maya@example.com") is None  # a GET never finishes it
    answer = confirm_in(browser, practice)
    assert answer.status == 303, answer.raw[:500]
    assert location(answer) == f"/join/{code}/welcome"
    token = browser.joined(answer)
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
    token = join_session(api, practice, code)
    account = api.get("/v1/me", token).body["account"]
    profile = stored(ClientProfile, practice.id, account["client_id"])
    assert profile.activated_at is not None
    assert [m.text for m in chat.messages(profile)] == ["Welcome aboard!"]


def test_the_sign_up_is_audited(api: Api, practice: Practice) -> None:
    # R47: the arrival by link is an audit event of the new client.
    group = make_group(api, practice)
    token = join_session(api, practice, code_of(group))
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
    assert join(api, practice, code).status == 303
    answer = late.post(f"/join/{code}", sign_up_fields("noor@example.com"), fresh=False)
    assert answer.status == 410
    assert b"full" in answer.raw
    saved = stored(Group, practice.id, Group.sk_for(group["id"]))
    assert saved.signups == 1


def test_the_count_is_checked_in_the_sign_ups_own_transaction(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # B3: two confirmations that both read the link as open: the second one's write fails whole.
    group = make_group(api, practice, link_max_signups=1)
    code = code_of(group)
    for email in ("a@example.com", "c@example.com"):
        assert Browser(api).post(f"/join/{code}", sign_up_fields(email)).status == 200
    real = joining.open_link
    stale = iter([real(code)] * 2)  # both confirmations read it before the first commits
    monkeypatch.setattr(joining, "open_link", lambda code: next(stale, None) or real(code))
    assert confirm(api, practice, "a@example.com").status == 303
    answer = confirm(api, practice, "c@example.com")
    assert answer.status == 410
    assert b"full" in answer.raw
    assert stored(Group, practice.id, Group.sk_for(group["id"])).signups == 1
    assert identities.find_by_email("c@example.com") is None  # nothing half-written


def test_sign_ups_that_read_the_link_together_both_land(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # B3, R16: the count is guarded by the link's own condition (live, unexpired, below the
    # maximum), not by the group's version: two sign-ups that read the group before either
    # commits both land while there is room (issue #11: the version must not serialize them).
    group = make_group(api, practice, link_max_signups=5)
    code = code_of(group)
    for email in ("a@example.com", "c@example.com"):
        assert Browser(api).post(f"/join/{code}", sign_up_fields(email)).status == 200
    stale = joining.open_link(code)  # read before either confirmation commits
    monkeypatch.setattr(joining, "open_link", lambda _: stale)
    for email in ("a@example.com", "c@example.com"):
        assert confirm(api, practice, email).status == 303
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
    assert join(api, practice, code).status == 303  # ... a sign-up ...
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


def _client_elsewhere(
    api: Api, email: str = "maya@example.com", *, password: bool = True, slug: str = "moonrise"
) -> Practice:
    other = sign_up_practice(api, slug)
    answer = api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": email, "send_invite": False},
        other.admin_token,
    )
    assert answer.status == 201, answer.body
    if password:
        give_password(email)
    return other


def test_an_existing_login_signs_in_and_adds_this_practices_account(api: Api, practice):
    # R16, R23: "I already have a login": that login's password adds a profile in the group
    # to the same login; the login now lists both accounts (R2). A wrong one is refused.
    _client_elsewhere(api)
    code = code_of(make_group(api, practice))
    browser = Browser(api)
    asked = browser.get(f"/join/{code}?step=sign_in")
    assert asked.status == 200
    assert b'value="sign_in"' in asked.raw
    assert b"moonrise" not in asked.raw.lower()  # R4: nothing about the other practice
    wrong = browser.post(
        f"/join/{code}?step=sign_in",
        {**sign_up_fields(), "step": "sign_in", "password": "wrong password"},
    )
    assert wrong.status == 400
    joined = browser.post(
        f"/join/{code}?step=sign_in", {**sign_up_fields(), "step": "sign_in", "password": PASSWORD}
    )
    assert joined.status == 303, joined.raw[:400]
    token = browser.joined(joined)
    assert api.get("/v1/me", token).body["account"]["org"]["id"] == practice.id
    assert len(login(api, "maya@example.com").body["accounts"]) == 2


def test_r51_the_login_password_typed_on_the_sign_up_form_joins_at_once(api, practice):
    # R51, R23: the visitor who proves the existing login's password on the page is joined
    # there (and may be told so); nobody else is.
    _client_elsewhere(api)
    code = code_of(make_group(api, practice))
    fields = {**sign_up_fields(), "password": PASSWORD, "password_confirm": PASSWORD}
    joined = Browser(api).post(f"/join/{code}", fields)
    assert joined.status == 303, joined.raw[:400]
    assert len(login(api, "maya@example.com").body["accounts"]) == 2
    assert confirmation_jobs(practice, "maya@example.com") == []  # nothing to tell by email


def _sign_up_page(api: Api, code: str, email: str) -> Answer:
    return Browser(api).post(f"/join/{code}", sign_up_fields(email))


def test_r51_the_sign_up_page_answers_alike_for_every_address(api: Api, practice: Practice):
    # R51, R23: a new address, a login with a password, a login without one and a staff
    # address of the practice get the same page, byte for byte: whether an address has a
    # login is said only to its mailbox.
    _client_elsewhere(api, "maya@example.com")
    _client_elsewhere(api, "pending@example.com", password=False, slug="starlight")
    code = code_of(make_group(api, practice))
    pages = [
        _sign_up_page(api, code, email)
        for email in (
            "new@example.com",
            "maya@example.com",
            "pending@example.com",
            practice.admin_email,
        )
    ]
    assert {page.status for page in pages} == {200}
    assert len({page.raw for page in pages}) == 1
    assert b"Check your email" in pages[0].raw
    assert b"already" not in pages[0].raw


def _reset_path(text: str) -> str:
    """The reset link's path in an email's text."""
    found = re.search(r"https?://[^/\s]+(/reset/[\w-]+)", text)
    assert found, text
    return found.group(1)


def test_r23_an_address_with_a_login_is_told_by_email_what_to_do(api: Api, practice):
    # R23, R51: the mailbox learns it has a login (sign in with it, or reset it: the email
    # carries a reset link that works); a staff address learns it is one. The practice's
    # email log shows one kind for all, as for a new address (R4).
    _client_elsewhere(api, "maya@example.com")
    code = code_of(make_group(api, practice))
    _sign_up_page(api, code, "maya@example.com")
    _sign_up_page(api, code, practice.admin_email)
    _sign_up_page(api, code, "new@example.com")
    assert api.post("/_local/drain").body["sent"] == 3
    (told,) = confirmation_jobs(practice, "maya@example.com")
    text = sent_text(told)
    assert "already has a Portico login" in text
    assert "staff account" not in text
    reset = submit(
        api,
        _reset_path(text),
        {"password": "a brand new password", "confirm": "a brand new password"},
    )
    assert reset.status == 303, reset.raw[:300]  # to the "password changed" page
    assert login(api, "maya@example.com", "a brand new password").status == 200
    (staff,) = confirmation_jobs(practice, practice.admin_email)
    assert "staff account" in sent_text(staff)
    kinds = {(e["kind"], e["to"]) for e in email_log(api, practice)}
    assert {
        ("join_confirmation", "maya@example.com"),
        ("join_confirmation", practice.admin_email),
        ("join_confirmation", "new@example.com"),
    } <= kinds


def test_r51_the_join_page_counts_before_it_looks_the_address_up(api: Api, practice):
    # R51, R52: every sign-up is counted before the address is looked up, an address with a
    # login as any other: past the limit per email, 429 (the page once told such an address
    # "already has a login" before counting anything).
    _client_elsewhere(api, "maya@example.com")
    code = code_of(make_group(api, practice))
    link = joining.open_link(code)
    for email in ("maya@example.com", "ghost@example.com"):
        for n in range(config.PUBLIC_ACTIONS_PER_EMAIL):
            fields = sign_up_fields(email)
            del fields["password_confirm"]
            assert joining.sign_up(link, **fields, source=f"10.0.0.{n}") is None
        assert _sign_up_page(api, code, email).status == 429


def test_r51_a_confirmation_link_works_once_and_a_newer_one_replaces_it(api, practice):
    # R16, R13: the newest sign-up of an address is the link that works; a used link says so.
    code = code_of(make_group(api, practice))
    _sign_up_page(api, code, "maya@example.com")
    first = confirm_path(practice, "maya@example.com")
    _sign_up_page(api, code, "maya@example.com")
    superseded = submit(api, first, {})
    assert superseded.status == 410
    assert b"most recent email" in superseded.raw
    assert confirm(api, practice).status == 303
    used = submit(api, confirm_path(practice, "maya@example.com"), {})
    assert used.status == 410
    assert b"already been used" in used.raw
    assert api.call("GET", "/join-confirm/not-a-real-token").status == 404


def test_r51_a_login_made_before_the_link_is_used_is_not_taken_over(api, practice):
    # R1, R16: the address got a login between the sign-up and the link: the link makes no
    # second login and sets no password on that one; the page says to sign in instead.
    code = code_of(make_group(api, practice))
    _sign_up_page(api, code, "maya@example.com")
    _client_elsewhere(api, "maya@example.com")
    answer = confirm(api, practice)
    assert answer.status == 409
    assert b"has a login now" in answer.raw
    assert login(api, "maya@example.com", NEW_PASSWORD).status == 401
    assert login(api, "maya@example.com", PASSWORD).status == 200


def test_r52_parallel_wrong_passwords_on_the_join_page_verify_at_most_five(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
):
    # R52, R45: 16 sign-ins with wrong passwords at once on the group page: each is counted
    # before its password is checked, so at most 5 are checked; the right one then is refused.
    _client_elsewhere(api)
    code = code_of(make_group(api, practice))
    verified = count_verifications(monkeypatch)
    link = joining.open_link(code)

    def guess(n: int) -> str:
        try:
            joining.sign_in(
                link,
                first_name="Maya",
                last_name="Chen",
                email="maya@example.com",
                password=f"guess {n}",
                source=f"10.0.0.{n}",
            )
        except (joining.WrongPassword, Throttled) as refused:
            return refused.code
        return "joined"

    answers = at_once(guess, 16)
    assert len(verified) <= config.LOGIN_FAILURES_PER_EMAIL, len(verified)
    assert answers.count("invalid_credentials") == len(verified)
    assert answers.count("throttled") == 16 - len(verified)
    with pytest.raises(Throttled):
        joining.sign_in(
            link,
            first_name="Maya",
            last_name="Chen",
            email="maya@example.com",
            password=PASSWORD,
            source="10.0.1.1",
        )


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


def test_a_login_without_a_password_is_told_to_set_one_by_email(api: Api, practice):
    # R23: an invited client who never set a password learns by email how to set one: the
    # email's reset link (the page itself says what it says to everyone, R51).
    _client_elsewhere(api, "maya@example.com", password=False)
    code = code_of(make_group(api, practice))
    assert _sign_up_page(api, code, "maya@example.com").status == 200
    api.post("/_local/drain")
    (told,) = confirmation_jobs(practice, "maya@example.com")
    text = sent_text(told)
    assert "never set one" in text
    assert _reset_path(text)


def test_the_groups_default_provider_holds_the_new_client(api: Api, practice: Practice):
    # R10: else the group's default_provider_id.
    add_provider(api, practice, "lee")
    kim = add_provider(api, practice, "kim")
    code = code_of(make_group(api, practice, default_provider_id=kim["id"]))
    token = join_session(api, practice, code)
    client_id = api.get("/v1/me", token).body["account"]["client_id"]
    assert stored(ClientProfile, practice.id, client_id).primary_provider_id == kim["id"]


def test_the_session_token_is_never_in_a_server_visible_place(api: Api, practice, caplog):
    # R48, R46, B9: the session is held in a cookie, never in a URL; logs and pages never
    # carry it, and the portal gets a one-time code instead.
    code = code_of(make_group(api, practice))
    browser = Browser(api)
    assert browser.post(f"/join/{code}", sign_up_fields()).status == 200
    answer = confirm_in(browser, practice)
    held = browser.cookies["__Host-portico_signin"]
    assert held not in location(answer)
    welcome = browser.get(f"/join/{code}/welcome")
    assert held.encode() not in welcome.raw
    handed = browser.post(f"/join/{code}/welcome", {}, fresh=False)
    assert held not in location(handed)
    assert location(handed).startswith(f"{config.PORTAL_URL}#code=")
    assert held not in caplog.text
    assert "maya@example.com" not in caplog.text
    headers = {k.lower(): v for k, v in welcome.headers.items()}
    assert headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in headers["content-security-policy"]  # no script at all now


def test_r50_a_join_sign_up_finished_by_its_emailed_link_proves_the_mailbox(api, practice):
    # R50, R51: the sign-up is finished by the link sent to the address, which proves the
    # mailbox: the password chosen on the page is the owner's, and opens another practice's
    # account added to that login later.
    code = code_of(make_group(api, practice))
    assert join(api, practice, code).status == 303
    assert stored_identity("maya@example.com").password_org_id is None
    other = sign_up_practice(api, "moonrise")
    added = api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        other.admin_token,
    )
    assert added.status == 201
    accounts = login(api, "maya@example.com", NEW_PASSWORD).body["accounts"]
    assert {a["org"]["slug"] for a in accounts} == {"sunrise", "moonrise"}


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
