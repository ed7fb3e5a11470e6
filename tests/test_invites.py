"""Invites (R11, R13–R15, R20, R21, R43, R47, B1, B2): staff routes, landing page, follow-ups."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from app import app
from chalicelib import clock
from chalicelib.models.audit import AuditEvent
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.tokens import SendLog, Token
from chalicelib.rules.email_kinds import KINDS
from chalicelib.services import chat, records, tokens, triggers
from chalicelib.services.email import delivery, rendering
from chalicelib.services.invites import follow_ups, invites
from chalicelib.services.practices import branding
from tests.support.api import PASSWORD, Api, Practice, give_password, login, sign_up_practice
from tests.support.email import RecordingSender, email_log
from tests.support.invites import (
    add_client,
    invite_path,
    jobs_of,
    open_page,
    session_of,
    submit,
)
from tests.support.records import sealed_link, stored

NEW_PASSWORD = "a fresh long password"


def _invite(api: Api, practice: Practice, client_id: str):
    return api.post(
        f"/v1/orgs/{practice.id}/clients/{client_id}/invite", None, practice.admin_token
    )


def _client(api: Api, practice: Practice, client_id: str) -> dict:
    answer = api.get(f"/v1/orgs/{practice.id}/clients/{client_id}", practice.admin_token)
    assert answer.status == 200, answer.body
    return answer.body["client"]


def _accept(api: Api, path: str, password: str = NEW_PASSWORD):
    return submit(api, path, {"password": password, "confirm": password})


def _actions(practice: Practice, client_id: str) -> list[str]:
    return [e.action for e in AuditEvent.query(AuditEvent.subject_for(practice.id, client_id))]


# Issuing and the client record (R13, B1) ------------------------------------------------------


def test_r13_adding_a_client_with_email_sends_a_pending_invite(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")
    assert client["invite"]["status"] == "pending"
    assert client["invite"]["expires_at"]
    (job,) = jobs_of(practice, client["id"], "invite")
    assert sealed_link(job).startswith("http://127.0.0.1:8000/invite/")
    assert _client(api, practice, client["id"])["invite"]["status"] == "pending"
    assert "invite.issued" in _actions(practice, client["id"])  # R47


def test_r13_the_invite_lives_as_long_as_the_practice_says(api: Api, practice: Practice):
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"invite_ttl_days": 3}}, practice.admin_token)
    client = add_client(api, practice, "maya@example.com")
    invite = _client(api, practice, client["id"])["invite"]
    days = (clock.now() + timedelta(days=3)).strftime("%Y-%m-%d")
    assert invite["expires_at"].startswith(days)


def test_r11_a_client_without_email_gets_no_invite_and_cannot_be_sent_one(api, practice):
    client = add_client(api, practice, None)
    assert client["invite"] == {
        "status": "not_sent",
        "reason": "no_email",
        "sent_at": None,
        "expires_at": None,
    }
    answer = _invite(api, practice, client["id"])
    assert (answer.status, answer.error_code()) == (409, "no_email")


def test_r13_resending_kills_the_older_link_at_once(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")
    first = invite_path(practice, client["id"])
    answer = _invite(api, practice, client["id"])
    assert answer.status == 202
    assert answer.body["invite"]["status"] == "pending"
    second = invite_path(practice, client["id"])
    assert first != second
    dead, _, _ = open_page(api, first)
    assert dead.status == 410
    assert b"replaced by a newer invitation" in dead.raw
    assert open_page(api, second)[0].status == 200
    assert "invite.resent" in _actions(practice, client["id"])  # R47


def test_b1_revoking_ends_the_live_invite_and_shows_revoked(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    url = f"/v1/orgs/{practice.id}/clients/{client['id']}/invite"
    assert api.call("DELETE", url, token=practice.admin_token).status == 204
    assert _client(api, practice, client["id"])["invite"]["status"] == "revoked"
    page = open_page(api, path)[0]
    assert page.status == 410
    assert b"withdrawn" in page.raw
    again = api.call("DELETE", url, token=practice.admin_token)
    assert (again.status, again.error_code()) == (409, "no_pending_invite")
    assert "invite.revoked" in _actions(practice, client["id"])


def test_b1_an_expired_invite_shows_expired_and_never_blocks_a_new_one(api, practice):
    client = add_client(api, practice, "maya@example.com")
    old = invite_path(practice, client["id"])
    token = tokens.live(invites.subject_for(practice.id, client["id"]))
    token.update([Token.expires_at.set(clock.now() - timedelta(seconds=1))])  # its time passed
    assert _client(api, practice, client["id"])["invite"]["status"] == "expired"
    page = open_page(api, old)[0]
    assert page.status == 410
    assert b"expired" in page.raw
    assert _invite(api, practice, client["id"]).status == 202
    assert _client(api, practice, client["id"])["invite"]["status"] == "pending"


def test_r38_an_archived_client_cannot_be_invited(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")
    api.post(f"/v1/orgs/{practice.id}/clients/{client['id']}/archive", None, practice.admin_token)
    answer = _invite(api, practice, client["id"])
    assert (answer.status, answer.error_code()) == (409, "client_archived")


def test_r20_a_sixth_send_in_a_day_is_refused_with_retry_after(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")  # the first send
    for _ in range(3):
        assert _invite(api, practice, client["id"]).status == 202
    reset = api.post(
        f"/v1/orgs/{practice.id}/clients/{client['id']}/password-reset", None, practice.admin_token
    )
    assert reset.status == 202  # resets count with invites: five so far
    refused = _invite(api, practice, client["id"])
    assert (refused.status, refused.error_code()) == (429, "throttled")
    retry = {k.lower(): v for k, v in refused.headers.items()}["retry-after"]
    assert 0 < int(retry) <= 24 * 3600


def test_r20_racing_sends_never_pass_the_limit(practice: Practice, atomic_moto: None):
    # Four sends done (creation + 3); eight racing requests may add exactly one more.
    with Client(app, stage_name="local") as raw:
        api = Api(raw)
        client = add_client(api, practice, "maya@example.com")
        for _ in range(3):
            assert _invite(api, practice, client["id"]).status == 202
        statuses: list[int] = []

        def send() -> None:
            statuses.append(_invite(api, practice, client["id"]).status)

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses.count(202) <= 1
    assert len(jobs_of(practice, client["id"], "invite")) <= 5


def test_r20_of_two_sends_that_read_the_log_together_the_second_fails_whole(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # R20 (at most 5 sends in 24 hours, R52 under concurrency): the send log is written in the
    # send's own transaction under its version (a VersionAttribute, issue #11), so a send that
    # read the log before another send committed fails whole with 409: no token, no email, no
    # count, and the other send's link stays the live one.
    client = add_client(api, practice, "maya@example.com")  # the first send
    profile = records.client(practice.id, client["id"])
    stale = invites._sends_within_limit(profile, clock.now())  # this send reads the log ...
    assert _invite(api, practice, client["id"]).status == 202  # ... another send commits ...
    live = tokens.live(invites.subject_for(practice.id, client["id"]))
    assert live is not None
    with monkeypatch.context() as patched:  # ... then this one writes
        patched.setattr(invites, "_sends_within_limit", lambda *args: stale)
        raced = _invite(api, practice, client["id"])
    assert (raced.status, raced.error_code()) == (409, "concurrent_change"), raced.body
    assert len(jobs_of(practice, client["id"], "invite")) == 2
    still = tokens.live(invites.subject_for(practice.id, client["id"]))
    assert still is not None
    assert still.token_hash == live.token_hash
    log = stored(SendLog, SendLog.key_for(practice.id, client["id"]))
    assert len(log.sent) == 2
    for _ in range(3):  # the failed send took no place: three more fit, then 429
        assert _invite(api, practice, client["id"]).status == 202
    assert _invite(api, practice, client["id"]).status == 429


def test_r4_another_practices_client_answers_as_missing(api: Api, practice: Practice):
    other = sign_up_practice(api, "moonrise")
    client = add_client(api, other, "maya@example.com")
    for method, suffix in (("POST", "invite"), ("DELETE", "invite"), ("POST", "password-reset")):
        answer = api.call(
            method,
            f"/v1/orgs/{practice.id}/clients/{client['id']}/{suffix}",
            token=practice.admin_token,
        )
        assert (answer.status, answer.error_code()) == (404, "client_not_found")


# The worker (R43) ---------------------------------------------------------------------------


def test_r43_an_invite_whose_link_died_before_sending_is_suppressed(api, practice):
    client = add_client(api, practice, "maya@example.com")
    _invite(api, practice, client["id"])
    first, second = jobs_of(practice, client["id"], "invite")
    sender = RecordingSender()
    assert delivery.deliver(first.job_id, sender) == "suppressed"
    assert delivery.deliver(second.job_id, sender) == "sent"
    log = {e["id"]: (e["status"], e["reason"]) for e in email_log(api, practice, client["id"])}
    assert log[first.job_id] == ("suppressed", "invite_superseded")
    assert log[second.job_id] == ("sent", None)
    statuses = {e["id"]: e["invite_status"] for e in email_log(api, practice, client["id"])}
    assert statuses == {first.job_id: "superseded", second.job_id: "pending"}  # B1


# The landing page (R15, R21, R46, R47, B2) ----------------------------------------------------


def test_r15_setting_a_password_activates_and_signs_in(api: Api, practice: Practice):
    api.patch(
        f"/v1/orgs/{practice.id}",
        {
            "branding": {"display_name": "Sunrise Physio"},
            "settings": {"welcome_message": {"enabled": True, "text": "Welcome aboard!"}},
        },
        practice.admin_token,
    )
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    page, _, _ = open_page(api, path)
    assert page.status == 200
    assert b"Sunrise Physio" in page.raw
    assert b'name="confirm"' in page.raw
    token = session_of(api, _accept(api, path))
    me = api.get("/v1/me", token)
    assert me.status == 200
    assert me.body["account"]["client_id"] == client["id"]
    assert login(api, "maya@example.com", NEW_PASSWORD).status == 200
    assert _client(api, practice, client["id"])["invite"]["status"] == "accepted"
    profile = ClientProfile.get(practice.id, client["id"])
    assert profile.activated_at is not None
    assert [m.text for m in chat.messages(profile)] == ["Welcome aboard!"]  # R21
    assert {"invite.accepted", "password.set"} <= set(_actions(practice, client["id"]))  # R47
    used = open_page(api, path)[0]
    assert used.status == 410
    assert b"already been used" in used.raw


def test_r15_a_client_with_a_login_enters_its_password_to_add_the_practice(api, practice):
    other = sign_up_practice(api, "moonrise")
    add_client(api, other, "maya@example.com")
    give_password("maya@example.com")
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    page = open_page(api, path)[0]
    assert b'name="confirm"' not in page.raw
    assert b"already have a Portico login" in page.raw
    assert b"moonrise" not in page.raw.lower()  # B2: nothing about other practices
    wrong = submit(api, path, {"password": "not the password"})
    assert wrong.status == 400
    assert b"field-error" in wrong.raw
    token = session_of(api, submit(api, path, {"password": PASSWORD}))
    assert api.get("/v1/me", token).body["account"]["client_id"] == client["id"]
    assert login(api, "maya@example.com").status == 200  # the password is unchanged


def test_r50_an_invite_to_a_login_with_an_unproven_password_lets_the_owner_choose_one(
    api, practice
):
    # R50, R15: Moonrise's admin set the login's password (R8); Sunrise's invite page never
    # asks for it (it may be a stranger's): the link proves the mailbox, the owner chooses a
    # new password, and it opens both practices' accounts.
    other = sign_up_practice(api, "moonrise")
    there = add_client(api, other, "maya@example.com", send_invite=False)
    set_by_admin = api.post(
        f"/v1/orgs/{other.id}/clients/{there['id']}/password",
        {"password": "set at moonrise"},
        other.admin_token,
    )
    assert set_by_admin.status == 200
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    page = open_page(api, path)[0]
    assert b'name="confirm"' in page.raw
    assert b"already have a Portico login" not in page.raw
    token = session_of(api, _accept(api, path))
    assert api.get("/v1/me", token).body["account"]["client_id"] == client["id"]
    assert login(api, "maya@example.com", "set at moonrise").status == 401
    accounts = login(api, "maya@example.com", NEW_PASSWORD).body["accounts"]
    assert {a["org"]["slug"] for a in accounts} == {"moonrise", "sunrise"}


def test_r15_a_form_with_errors_is_shown_again_with_400_beside_its_fields(api, practice):
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    answer = submit(api, path, {"password": "short", "confirm": "other"})
    assert answer.status == 400
    html = answer.raw.decode()
    assert 'id="password-error"' in html
    assert 'id="confirm-error"' in html
    assert open_page(api, path)[0].status == 200  # the link still works


def test_csrf_is_required_on_every_post(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    answer = submit(api, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, csrf=False)
    assert answer.status == 403
    assert open_page(api, path)[0].status == 200


def test_an_unknown_invite_link_answers_404_on_a_neutral_page(api: Api, practice: Practice):
    answer = open_page(api, "/invite/not-a-real-token-at-all")[0]
    assert answer.status == 404
    assert practice.org["name"].encode() not in answer.raw


def test_r13_two_tabs_redeeming_one_link_end_with_one_success(
    practice: Practice, atomic_moto: None
):
    with Client(app, stage_name="local") as raw:
        api = Api(raw)
        client = add_client(api, practice, "maya@example.com")
        path = invite_path(practice, client["id"])
        statuses: list[int] = []
        both_open = threading.Barrier(2)

        def redeem() -> None:
            # Each tab shows the live page (its own CSRF pair) before either sends its form:
            # opened after the other's password was set, a tab would show the used link's
            # page, which has no form to send
            _, cookie, token = open_page(api, path)
            both_open.wait(timeout=10)
            fields = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
            headers = {"content-type": "application/x-www-form-urlencoded", "cookie": cookie}
            statuses.append(api.call("POST", path, raw=urlencode(fields), headers=headers).status)

        threads = [threading.Thread(target=redeem) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [303, 410]


def test_b2_a_dead_link_lets_the_visitor_ask_the_practice_for_a_new_invite(api, practice):
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    api.call(
        "DELETE",
        f"/v1/orgs/{practice.id}/clients/{client['id']}/invite",
        token=practice.admin_token,
    )
    asked = submit(api, path, {"intent": "renew"})
    assert asked.status == 200
    assert b"on its way" in asked.raw
    submit(api, path, {"intent": "renew"})  # a second ask tells nobody again
    requests = [e for e in email_log(api, practice) if e["kind"] == "invite_requested"]
    assert len(requests) == 1
    assert api.post("/_local/drain").body["sent"] >= 1
    assert "invite.renewal_requested" in _actions(practice, client["id"])


# Follow-ups (R14, R44) --------------------------------------------------------------------------


def test_r14_each_follow_up_is_a_new_link_and_the_earlier_one_dies(api, practice):
    # R14 (as the seed product): each follow-up is a new link, the earlier link dies when it
    # is created (R13), its email says it replaces the earlier one, and the dead page offers a
    # fresh invite (B2). Sent on the days set, each once; not counted toward R20.
    client = add_client(api, practice, "maya@example.com")
    sent_at = clock.now()
    assert triggers.follow_ups(sent_at + timedelta(days=2))["follow_ups"] == 0
    assert triggers.follow_ups(sent_at + timedelta(days=3, minutes=1))["follow_ups"] == 1
    assert triggers.follow_ups(sent_at + timedelta(days=3, minutes=2))["follow_ups"] == 0
    assert triggers.follow_ups(sent_at + timedelta(days=7, minutes=1))["follow_ups"] == 1
    assert triggers.follow_ups(sent_at + timedelta(days=9))["follow_ups"] == 0
    jobs = jobs_of(practice, client["id"], "invite")
    assert len(jobs) == 3
    assert len({sealed_link(job) for job in jobs}) == 3
    assert [job.context["follow_up"] for job in jobs] == [False, True, True]
    first, _, _ = open_page(api, invite_path(practice, client["id"], 0))
    assert first.status == 410
    assert "replaced by a newer invitation" in first.raw.decode()
    assert 'value="renew"' in first.raw.decode()  # B2: ask for a fresh invite
    assert open_page(api, invite_path(practice, client["id"], 1))[0].status == 410
    assert open_page(api, invite_path(practice, client["id"], -1))[0].status == 200
    newest = stored(Token, jobs[-1].context["token_hash"]).expires_at
    first_expiry = stored(Token, jobs[0].context["token_hash"]).expires_at
    assert abs(newest - first_expiry) < timedelta(seconds=1)  # the invite's expiry, kept
    for _ in range(4):  # R20: the follow-ups took none of the five staff sends
        assert _invite(api, practice, client["id"]).status == 202
    assert _invite(api, practice, client["id"]).status == 429


def test_r14_a_follow_up_email_says_it_replaces_the_earlier_one(api, practice):
    client = add_client(api, practice, "maya@example.com")
    triggers.follow_ups(clock.now() + timedelta(days=3, minutes=1))
    job = jobs_of(practice, client["id"], "invite")[-1]
    kind = KINDS["invite"]
    values = {**job.context, "invite_url": sealed_link(job)}
    rendered = rendering.render(kind, values, branding.branding_of(records.org(practice.id)))
    assert "replaces the earlier one" in rendered.text


def test_r14_no_follow_up_after_acceptance_or_archive(api: Api, practice: Practice):
    accepted = add_client(api, practice, "maya@example.com")
    archived = add_client(api, practice, "noor@example.com")
    _accept(api, invite_path(practice, accepted["id"]))
    api.post(f"/v1/orgs/{practice.id}/clients/{archived['id']}/archive", None, practice.admin_token)
    later = clock.now() + timedelta(days=3, minutes=1)
    assert triggers.follow_ups(later)["follow_ups"] == 0
    assert follow_ups.send_due_follow_ups(clock.now() + timedelta(days=7, minutes=1)) == 0


def test_r15_an_accepted_client_cannot_be_invited_again(api: Api, practice: Practice):
    client = add_client(api, practice, "maya@example.com")
    _accept(api, invite_path(practice, client["id"]))
    answer = _invite(api, practice, client["id"])
    assert (answer.status, answer.error_code()) == (409, "invite_accepted")
    assert "password reset" in answer.body["error"]["message"]


def test_r48_logs_of_the_invite_flow_hold_no_secret(api, practice, caplog):
    caplog.set_level(logging.INFO)
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    token = session_of(api, _accept(api, path))
    api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    api.post("/_local/drain")
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (path.rsplit("/", 1)[1], token, "maya@example.com", "Maya"):
        assert secret not in text, secret
    events = {
        json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "portico_events"
    }
    assert {"invite.accepted", "password.reset_requested", "email.sent"} <= events


def test_round_trips_of_sending_and_accepting_do_not_grow_with_history(
    api: Api, practice: Practice, dynamo_calls
):
    # DESIGN "Data": a resend reads the pointer and the send log, never the invite history.
    client = add_client(api, practice, "maya@example.com")
    costs = []
    for _ in range(3):
        dynamo_calls.clear()
        assert _invite(api, practice, client["id"]).status == 202
        costs.append(len(dynamo_calls.operations))
    assert costs[0] == costs[1] == costs[2] <= 10
    dynamo_calls.clear()
    _client(api, practice, client["id"])
    # the session and, read with what it stands on, the profile and its live pointer (issue
    # #17); then the token the pointer names
    assert dynamo_calls.operations == ["GetItem", "BatchGetItem", "GetItem"]
    path = invite_path(practice, client["id"])
    dynamo_calls.clear()
    # issue #17: the page GET (the token, then the organization, profile and login at once)
    # and the form POST (the same two, then the levels whose settings open the login, R37,
    # with the login's reset and passcode pointers a password set ends, R13, R20; then one
    # transaction, which also writes the one-time code the page hands the portal, B9)
    accepted = _accept(api, path)
    assert dynamo_calls.operations == [
        *["GetItem", "BatchGetItem"],
        *["GetItem", "BatchGetItem", "BatchGetItem", "TransactWriteItems"],
    ]
    assert dynamo_calls.operations.count("TransactWriteItems") == 1
    session_of(api, accepted)


def test_r19_an_email_change_kills_the_invite_sent_to_the_old_address(api, practice):
    client = add_client(api, practice, "maya@example.com")
    old = invite_path(practice, client["id"])
    changed = api.patch(
        f"/v1/orgs/{practice.id}/clients/{client['id']}",
        {"email": "maya.new@example.com"},
        practice.admin_token,
    )
    assert changed.status == 200
    assert _client(api, practice, client["id"])["invite"]["status"] == "revoked"
    assert open_page(api, old)[0].status == 410
    assert _invite(api, practice, client["id"]).status == 202
    assert open_page(api, invite_path(practice, client["id"]))[0].status == 200
