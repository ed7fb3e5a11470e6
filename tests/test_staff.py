"""Staff invitations and provider administration (R49, with R2, R13, R20, R47, R50, B2).

Staff invite pages are driven through the app (GET the page, POST its form with the CSRF pair),
as a browser would; the link's secret is read from the email job behind the API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.models.audit import AuditEvent
from chalicelib.models.orgs import Provider
from chalicelib.models.tokens import Token
from chalicelib.services.email import delivery
from chalicelib.services.practices import staff
from tests.support.api import (
    PASSWORD,
    Api,
    Practice,
    add_provider,
    give_password,
    login,
    sign_up_practice,
    staff_invite_job,
    staff_invite_secret,
)
from tests.support.email import RecordingSender
from tests.support.invites import add_client, open_page, session_of, submit
from tests.support.records import stored

NEW_PASSWORD = "a brand new staff password"


def _path(practice: Practice, provider_id: str, index: int = -1) -> str:
    return f"/staff-invite/{staff_invite_secret(practice.id, provider_id, index)}"


def _invite(api: Api, practice: Practice, email: str, role: str = "provider") -> dict[str, Any]:
    answer = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": email, "first_name": "Grace", "last_name": "Mensah", "role": role},
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    return answer.body["provider"]


def _one(practice: Practice, provider_id: str) -> str:
    return f"/v1/orgs/{practice.id}/providers/{provider_id}"


def _status(practice: Practice, provider_id: str) -> str:
    return stored(Provider, practice.id, Provider.sk_for(provider_id)).status


def _admin_id(api: Api, practice: Practice) -> str:
    providers = api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"]
    return next(p["id"] for p in providers if p["email"] == practice.admin_email)


def _accounts(api: Api, email: str, password: str = PASSWORD) -> list[dict[str, Any]]:
    answer = login(api, email, password)
    assert answer.status == 200, answer.body
    return answer.body["accounts"]


def _sign_in_as_staff(
    api: Api, practice: Practice, name: str, role: str = "provider"
) -> tuple[str, str]:
    provider = add_provider(api, practice, name, role)
    answer = login(api, provider["email"])
    assert answer.status == 200, answer.body
    assert answer.body["account"]["kind"] == "staff"
    return provider["id"], answer.body["token"]


# The staff invite's lifecycle (R49, R13, B2) --------------------------------------------------


def test_r49_an_added_provider_is_invited_and_its_page_sets_the_password_and_signs_in(
    api: Api, practice: Practice
):
    # R49: adding a provider sends a branded staff invite; the provider is `invited` until its
    # page sets a password, then `active` and signed in to the staff account.
    provider = _invite(api, practice, "grace@sunrise.example")
    assert provider["status"] == "invited"
    job = staff_invite_job(practice.id, provider["id"])
    assert job.kind == "staff_invite"
    page, _, _ = open_page(api, _path(practice, provider["id"]))
    assert page.status == 200
    assert "Choose a password" in page.raw.decode()
    done = submit(
        api, _path(practice, provider["id"]), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    me = api.get("/v1/me", session_of(api, done))
    assert me.body["account"]["kind"] == "staff"
    assert me.body["account"]["org"]["id"] == practice.id
    assert _status(practice, provider["id"]) == "active"
    assert [a["kind"] for a in _accounts(api, "grace@sunrise.example", NEW_PASSWORD)] == ["staff"]
    used, _, _ = open_page(api, _path(practice, provider["id"]))
    assert used.status == 410  # R13: single use
    assert "already been used" in used.raw.decode()


def test_r49_until_accepted_no_staff_account_of_the_practice_is_in_the_logins_list(
    api: Api, practice: Practice
):
    # R49, R2: an existing login (admin elsewhere, proven) added as staff here lists only its
    # own account until it accepts; its page asks for that login's password (R50: proven).
    other = sign_up_practice(api, "harbor")
    give_password(other.admin_email)
    provider = _invite(api, practice, other.admin_email)
    assert [a["org"]["id"] for a in _accounts(api, other.admin_email)] == [other.id]
    page, _, _ = open_page(api, _path(practice, provider["id"]))
    assert "You already have a Portico login" in page.raw.decode()
    wrong = submit(api, _path(practice, provider["id"]), {"password": "not the password"})
    assert wrong.status == 400
    assert _status(practice, provider["id"]) == "invited"
    done = submit(api, _path(practice, provider["id"]), {"password": PASSWORD})
    assert api.get("/v1/me", session_of(api, done)).body["account"]["org"]["id"] == practice.id
    assert {a["org"]["id"] for a in _accounts(api, other.admin_email)} == {other.id, practice.id}


def test_r50_an_unproven_password_is_not_asked_for_the_staff_invite_chooses_a_new_one(
    api: Api, practice: Practice
):
    # R50: a practice sign-up's password is unproven; the staff invite's link proves the
    # mailbox, so its page lets the owner choose a new password instead of asking for that one.
    other = sign_up_practice(api, "harbor")  # its admin's password: unproven
    provider = _invite(api, practice, other.admin_email)
    page, _, _ = open_page(api, _path(practice, provider["id"]))
    assert "Choose a password" in page.raw.decode()
    done = submit(
        api, _path(practice, provider["id"]), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    session_of(api, done)
    # The new password is proven: it opens both practices' staff accounts.
    orgs = {a["org"]["id"] for a in _accounts(api, other.admin_email, NEW_PASSWORD)}
    assert orgs == {other.id, practice.id}


def test_r13_a_resent_staff_invite_kills_the_older_link_and_a_revoked_one_says_so(
    api: Api, practice: Practice
):
    # R13, R49: one live staff invite per provider; resend supersedes, revoke withdraws, and a
    # dead link's branded page says why (B2).
    provider = _invite(api, practice, "grace@sunrise.example")
    first = _path(practice, provider["id"])
    resent = api.post(f"{_one(practice, provider['id'])}/invite", None, practice.admin_token)
    assert resent.status == 202
    assert resent.body["invite"]["status"] == "pending"
    dead, _, _ = open_page(api, first)
    assert dead.status == 410
    assert "replaced by a newer invitation" in dead.raw.decode()
    second = _path(practice, provider["id"])
    assert open_page(api, second)[0].status == 200
    revoked = api.call(
        "DELETE", f"{_one(practice, provider['id'])}/invite", None, practice.admin_token
    )
    assert revoked.status == 204
    withdrawn, _, _ = open_page(api, second)
    assert withdrawn.status == 410
    assert "has withdrawn it" in withdrawn.raw.decode()
    assert (
        staff.accept(second.rsplit("/", 1)[-1], NEW_PASSWORD, NEW_PASSWORD, "x").session_token
        is None
    )
    assert _status(practice, provider["id"]) == "invited"
    log = api.get(f"/v1/orgs/{practice.id}/emails", practice.admin_token).body["emails"]
    shown = sorted(e["invite_status"] for e in log if e["kind"] == "staff_invite")
    assert shown == ["revoked", "superseded"]  # B1: each staff invite's status in the email log


def test_r13_an_expired_staff_invite_answers_expired_and_never_opens(api: Api, practice: Practice):
    provider = _invite(api, practice, "grace@sunrise.example")
    path = _path(practice, provider["id"])
    token = stored(Token, staff_invite_job(practice.id, provider["id"]).context["token_hash"])
    token.update([Token.expires_at.set(clock.now() - timedelta(seconds=1))])  # its time passed
    page, _, _ = open_page(api, path)
    assert page.status == 410
    assert "It has expired" in page.raw.decode()
    assert (
        staff.accept(path.rsplit("/", 1)[-1], NEW_PASSWORD, NEW_PASSWORD, "x").session_token is None
    )


def _renewal_requests(api: Api, practice: Practice) -> list[dict[str, Any]]:
    log = api.get(f"/v1/orgs/{practice.id}/emails", practice.admin_token).body["emails"]
    return [e for e in log if e["kind"] == "staff_invite_requested"]


def test_b2_a_dead_staff_invite_asks_the_practices_admins_for_a_new_one_once(
    api: Api, practice: Practice
):
    # B2 (R49's invites as R13's): the expired link's page offers the request; each active
    # admin is told once, by a branded email that names the provider and why the link died;
    # a second request tells nobody; the admins decide (a resend), and the audit says who asked
    second_admin = add_provider(api, practice, "ines", "admin")
    provider = _invite(api, practice, "grace@sunrise.example")
    path = _path(practice, provider["id"])
    token = stored(Token, staff_invite_job(practice.id, provider["id"]).context["token_hash"])
    token.update([Token.expires_at.set(clock.now() - timedelta(seconds=1))])
    dead, _, csrf = open_page(api, path)
    assert dead.status == 410
    assert 'name="intent" value="renew"' in dead.raw.decode()
    assert csrf  # the form carries its CSRF pair
    asked = submit(api, path, {"intent": "renew"})
    assert asked.status == 200
    assert b"on its way" in asked.raw
    assert submit(api, path, {"intent": "renew"}).status == 200  # the same page, nobody told
    requests = _renewal_requests(api, practice)
    assert len(requests) == 2  # the founding admin and Ines, not the invited provider
    sender = RecordingSender()
    for request in requests:
        assert delivery.deliver(request["id"], sender) == "sent"
    assert sorted(m["to"] for m in sender.sent) == sorted(
        [practice.admin_email, second_admin["email"]]
    )
    for sent in sender.sent:
        assert sent["message"].subject == "Grace Mensah asks for a new staff invitation"
        assert "(it expired)" in sent["message"].text
    events = AuditEvent.query(AuditEvent.subject_for(practice.id, None))
    asked_events = [e for e in events if e.action == "staff_invite.renewal_requested"]
    assert [(e.actor, e.details) for e in asked_events] == [
        ("system", {"provider_id": provider["id"]})
    ]


def test_b2_a_used_staff_invite_offers_no_request_and_a_joined_provider_tells_nobody(
    api: Api, practice: Practice
):
    # B2: a used link says to sign in, with no form; a dead link whose provider has joined
    # meanwhile answers the same "on its way" page (it tells no more) and queues nothing
    provider = _invite(api, practice, "grace@sunrise.example")
    first = _path(practice, provider["id"])
    assert api.post(f"{_one(practice, provider['id'])}/invite", None, practice.admin_token).status
    second = _path(practice, provider["id"])
    accepted = submit(api, second, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert accepted.status == 303
    used, _, _ = open_page(api, second)
    assert used.status == 410
    assert "intent" not in used.raw.decode()
    # asked anyway (the form is not there): the link stays dead, asking nothing
    assert staff.renewal(second.rsplit("/", 1)[-1]).state == staff.StaffInviteState.DEAD
    asked = submit(api, first, {"intent": "renew"})  # superseded, the provider now active
    assert asked.status == 200
    assert b"on its way" in asked.raw
    assert _renewal_requests(api, practice) == []


def test_b2_a_staff_invites_request_needs_its_csrf_pair(api: Api, practice: Practice):
    provider = _invite(api, practice, "grace@sunrise.example")
    path = _path(practice, provider["id"])
    api.call("DELETE", f"{_one(practice, provider['id'])}/invite", None, practice.admin_token)
    assert submit(api, path, {"intent": "renew"}, csrf=False).status == 403
    assert _renewal_requests(api, practice) == []


def test_r20_staff_invites_to_one_provider_stop_at_five_a_day(api: Api, practice: Practice):
    # R20 (and R49's R13 rules): the first invite and four resends, then 429.
    provider = _invite(api, practice, "grace@sunrise.example")
    for _ in range(4):
        assert (
            api.post(f"{_one(practice, provider['id'])}/invite", None, practice.admin_token).status
            == 202
        )
    over = api.post(f"{_one(practice, provider['id'])}/invite", None, practice.admin_token)
    assert over.status == 429


def test_r49_the_first_admin_of_a_practice_is_active_at_once(api: Api, practice: Practice):
    providers = api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"]
    assert [p["status"] for p in providers] == ["active"]


def test_r49_only_admins_invite_and_an_accepted_provider_gets_no_new_invite(
    api: Api, practice: Practice
):
    provider_id, token = _sign_in_as_staff(api, practice, "lee")
    denied = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": "x@sunrise.example", "first_name": "X", "last_name": "Y"},
        token,
    )
    assert denied.status == 403
    again = api.post(f"{_one(practice, provider_id)}/invite", None, practice.admin_token)
    assert (again.status, again.error_code()) == (409, "not_invited")


# Deactivation, successor, last admin, role change (R49, R10) ----------------------------------


def test_r49_deactivation_ends_the_providers_open_session_at_once(api: Api, practice: Practice):
    provider_id, token = _sign_in_as_staff(api, practice, "lee")
    assert api.get(f"/v1/orgs/{practice.id}/clients", token).status == 200
    gone = api.post(f"{_one(practice, provider_id)}/deactivate", {}, practice.admin_token)
    assert gone.status == 200, gone.body
    assert gone.body["provider"]["status"] == "deactivated"
    assert api.get(f"/v1/orgs/{practice.id}/clients", token).status == 401
    assert api.get("/v1/me", token).status == 401
    assert _accounts(api, f"lee@{practice.org['slug']}.example") == []  # R2: out of the list
    back = api.post(f"{_one(practice, provider_id)}/reactivate", None, practice.admin_token)
    assert back.body["provider"]["status"] == "active"
    assert api.get("/v1/me", token).status == 401  # a session from before stays ended
    assert login(api, f"lee@{practice.org['slug']}.example").body["account"]["kind"] == "staff"


def test_r49_a_primary_provider_of_active_clients_needs_a_successor_who_takes_them_all(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # R49: 409 provider_has_clients with the count; with a successor every active client moves,
    # in batches (made small here) that each move clients whole; archived ones keep the record.
    monkeypatch.setattr(staff, "MOVE_BATCH", 2)
    leaving = add_provider(api, practice, "lee")
    successor = add_provider(api, practice, "kim")
    clients = [
        add_client(api, practice, f"c{n}@example.com", primary_provider_id=leaving["id"])["id"]
        for n in range(5)
    ]
    archived = clients.pop()
    assert (
        api.post(
            f"/v1/orgs/{practice.id}/clients/{archived}/archive", None, practice.admin_token
        ).status
        == 200
    )
    refused = api.post(f"{_one(practice, leaving['id'])}/deactivate", {}, practice.admin_token)
    assert (refused.status, refused.error_code()) == (409, "provider_has_clients")
    assert refused.body["error"]["count"] == 4
    assert _status(practice, leaving["id"]) == "active"
    done = api.post(
        f"{_one(practice, leaving['id'])}/deactivate",
        {"successor_id": successor["id"]},
        practice.admin_token,
    )
    assert done.status == 200, done.body
    for client_id in clients:
        client = api.get(f"/v1/orgs/{practice.id}/clients/{client_id}", practice.admin_token)
        assert client.body["client"]["primary_provider_id"] == successor["id"]
    kept = api.get(f"/v1/orgs/{practice.id}/clients/{archived}", practice.admin_token)
    assert kept.body["client"]["primary_provider_id"] == leaving["id"]


def test_r49_the_successor_must_be_an_active_clinical_provider_of_the_practice(
    api: Api, practice: Practice
):
    leaving = add_provider(api, practice, "lee")
    desk = add_provider(api, practice, "desk", role="staff")
    add_client(api, practice, "c@example.com", primary_provider_id=leaving["id"])
    for successor in (desk["id"], leaving["id"], "pr_nobody"):
        answer = api.post(
            f"{_one(practice, leaving['id'])}/deactivate",
            {"successor_id": successor},
            practice.admin_token,
        )
        assert answer.status == 400, (successor, answer.body)
    assert _status(practice, leaving["id"]) == "active"


def test_r10_a_deactivated_provider_is_no_longer_a_choice_for_clients(api: Api, practice: Practice):
    leaving = add_provider(api, practice, "lee")
    assert (
        api.post(f"{_one(practice, leaving['id'])}/deactivate", {}, practice.admin_token).status
        == 200
    )
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "A", "last_name": "B", "care_team": [leaving["id"]]},
        practice.admin_token,
    )
    assert answer.status == 400


def test_r49_the_last_active_admin_can_be_neither_demoted_nor_deactivated(
    api: Api, practice: Practice
):
    admin_id = _admin_id(api, practice)
    demote = api.patch(_one(practice, admin_id), {"role": "provider"}, practice.admin_token)
    assert (demote.status, demote.error_code()) == (409, "last_admin")
    leave = api.post(f"{_one(practice, admin_id)}/deactivate", {}, practice.admin_token)
    assert (leave.status, leave.error_code()) == (409, "last_admin")
    add_provider(api, practice, "second", role="admin")
    assert (
        api.patch(_one(practice, admin_id), {"role": "provider"}, practice.admin_token).status
        == 200
    )


def test_r49_an_invited_admin_does_not_count_as_an_active_admin(api: Api, practice: Practice):
    add_provider(api, practice, "second", role="admin", accept=False)
    admin_id = _admin_id(api, practice)
    demote = api.patch(_one(practice, admin_id), {"role": "provider"}, practice.admin_token)
    assert (demote.status, demote.error_code()) == (409, "last_admin")


def test_r49_a_role_change_acts_on_a_session_already_open(api: Api, practice: Practice):
    provider_id, token = _sign_in_as_staff(api, practice, "lee")
    settings = {"name": "Renamed"}
    assert api.patch(f"/v1/orgs/{practice.id}", settings, token).status == 403
    promoted = api.patch(_one(practice, provider_id), {"role": "admin"}, practice.admin_token)
    assert promoted.body["provider"]["role"] == "admin"
    assert api.patch(f"/v1/orgs/{practice.id}", settings, token).status == 200
    assert api.get("/v1/me", token).body["account"]["role"] == "admin"
    api.patch(_one(practice, provider_id), {"role": "staff"}, practice.admin_token)
    assert api.patch(f"/v1/orgs/{practice.id}", settings, token).status == 403


def test_r10_a_primary_provider_of_active_clients_keeps_a_clinical_role(
    api: Api, practice: Practice
):
    provider = add_provider(api, practice, "lee")
    add_client(api, practice, "c@example.com", primary_provider_id=provider["id"])
    answer = api.patch(_one(practice, provider["id"]), {"role": "staff"}, practice.admin_token)
    assert (answer.status, answer.error_code()) == (409, "provider_has_clients")
    renamed = api.patch(
        _one(practice, provider["id"]), {"first_name": "Leona"}, practice.admin_token
    )
    assert renamed.body["provider"]["first_name"] == "Leona"


def test_r4_another_practices_provider_answers_as_missing(api: Api, practice: Practice):
    other = sign_up_practice(api, "harbor")
    theirs = add_provider(api, other, "kim")
    for answer in (
        api.patch(_one(practice, theirs["id"]), {"first_name": "X"}, practice.admin_token),
        api.post(f"{_one(practice, theirs['id'])}/deactivate", {}, practice.admin_token),
        api.post(f"{_one(practice, theirs['id'])}/invite", None, practice.admin_token),
    ):
        assert (answer.status, answer.error_code()) == (404, "provider_not_found")


# Audit (R47) -----------------------------------------------------------------------------------


def test_r47_every_staff_change_is_audited_with_ids_only(api: Api, practice: Practice):
    provider = _invite(api, practice, "grace@sunrise.example")
    api.post(f"{_one(practice, provider['id'])}/invite", None, practice.admin_token)
    submit(
        api, _path(practice, provider["id"]), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    api.patch(_one(practice, provider["id"]), {"role": "admin"}, practice.admin_token)
    client = add_client(api, practice, "c@example.com", primary_provider_id=provider["id"])
    successor = _admin_id(api, practice)
    api.post(
        f"{_one(practice, provider['id'])}/deactivate",
        {"successor_id": successor},
        practice.admin_token,
    )
    api.post(f"{_one(practice, provider['id'])}/reactivate", None, practice.admin_token)
    events = api.get(f"/v1/orgs/{practice.id}/audit", practice.admin_token).body["events"]
    actions = {e["action"] for e in events}
    assert {
        "provider.added",
        "staff_invite.issued",
        "staff_invite.resent",
        "staff_invite.accepted",
        "provider.updated",
        "provider.deactivated",
        "provider.reactivated",
    } <= actions
    moved = api.get(
        f"/v1/orgs/{practice.id}/audit?client_id={client['id']}", practice.admin_token
    ).body["events"]
    assert "client.primary_provider_changed" in {e["action"] for e in moved}
    text = str(events)
    assert "grace@sunrise.example" not in text  # R48: ids only
    assert "Grace" not in text
