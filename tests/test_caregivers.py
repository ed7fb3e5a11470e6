"""Caregiver access (R30–R33, B4–B6, R47): granted with an acknowledgment, accepted through a
branded page, listed and entered as an account, ended at once, limited by scope and age."""

from __future__ import annotations

from datetime import timedelta

from chalicelib import clock
from chalicelib.models.emails import EmailJob
from tests.support.api import PASSWORD, Api, Practice, give_password, login
from tests.support.family import (
    add_client,
    caregiver_session,
    client_session,
    family,
    invite_path,
    jobs_of,
    link,
    open_page,
    submit,
)
from tests.support.records import identity_of, sealed_link


def test_r30_a_grant_is_refused_below_plan_plus(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    jordan = add_client(api, practice, "Jordan", "jordan@example.com")
    body = {"client_id": jordan, "relationship": "parent", "portal_access": {"acknowledged": True}}
    answer = link(api, practice, sam, body)
    assert answer.status == 403
    assert answer.error_code() == "caregiver_access_unavailable"


def test_r30_a_grant_needs_the_acknowledgment(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    jordan = add_client(api, practice, "Jordan", "jordan@example.com")
    body = {"client_id": jordan, "relationship": "parent", "portal_access": {"acknowledged": False}}
    answer = link(api, practice, sam, body)
    assert answer.status == 400
    assert answer.body["error"]["details"][0]["field"].startswith("portal_access.acknowledged")


def test_r30_the_grant_keeps_who_acknowledged_and_sends_two_emails(
    api: Api, practice: Practice
) -> None:
    fam = family(api, practice, accept=False)
    shown = api.get(fam.link_path.rsplit("/", 1)[0], practice.admin_token).body["links"][0]
    grant = shown["portal_access"]
    assert grant["status"] == "pending"
    assert grant["acknowledged_by"].startswith("provider:pr_")
    assert grant["acknowledged_at"]
    kinds = {j.kind for j in jobs_of(practice.id, fam.caregiver, "caregiver_invite")}
    kinds |= {j.kind for j in jobs_of(practice.id, fam.caregiver, "caregiver_notice")}
    assert kinds == {"caregiver_invite", "caregiver_notice"}


def test_r28_a_pending_grant_gives_no_account(api: Api, practice: Practice) -> None:
    fam = family(api, practice, accept=False)
    give_password(fam.caregiver_email)
    kinds = [a["kind"] for a in login(api, fam.caregiver_email).body["accounts"]]
    assert kinds == ["client"]


def test_r28_a_link_without_grant_gives_no_account(api: Api, practice: Practice) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    jordan = add_client(api, practice, "Jordan", "jordan@example.com")
    assert link(api, practice, sam, {"client_id": jordan, "relationship": "parent"}).status == 201
    give_password("jordan@example.com")
    kinds = [a["kind"] for a in login(api, "jordan@example.com").body["accounts"]]
    assert kinds == ["client"]


def test_r30_after_accepting_the_receivers_account_is_listed_and_entered(
    api: Api, practice: Practice
) -> None:
    fam = family(api, practice)
    accounts = login(api, fam.caregiver_email).body["accounts"]
    (care,) = [a for a in accounts if a["kind"] == "caregiver"]
    assert care["client_id"] == fam.receiver
    assert care["on_behalf_of"] == fam.receiver
    token = caregiver_session(api, fam)
    assert api.get("/v1/portal/profile", token).body["profile"]["id"] == fam.receiver


def test_r30_the_page_asks_for_the_existing_password_when_there_is_one(
    api: Api, practice: Practice
) -> None:
    fam = family(api, practice, accept=False)
    give_password(fam.caregiver_email)
    path = invite_path(practice.id, fam.caregiver)
    page, _, _ = open_page(api, path)
    assert b"Your password" in page.raw
    wrong = submit(api, path, {"password": "not my password"})
    assert wrong.status == 400
    assert submit(api, path, {"password": PASSWORD}).status == 303
    used, _, _ = open_page(api, path)
    assert used.status == 410


def test_r50_a_caregiver_invite_to_an_unproven_password_chooses_a_new_one(
    api: Api, practice: Practice
) -> None:
    # R50, R30: the caregiver's password was set by an admin (R8), so nobody proved it: the
    # page asks for a new one (the link proves the mailbox), and the admin's dies.
    fam = family(api, practice, accept=False)
    set_by_admin = api.post(
        f"/v1/orgs/{practice.id}/clients/{fam.caregiver}/password",
        {"password": "set by the admin"},
        practice.admin_token,
    )
    assert set_by_admin.status == 200
    path = invite_path(practice.id, fam.caregiver)
    page, _, _ = open_page(api, path)
    assert b"Choose a password" in page.raw
    assert submit(api, path, {"password": PASSWORD, "confirm": PASSWORD}).status == 303
    assert login(api, fam.caregiver_email, "set by the admin").status == 401
    assert identity_of(fam.caregiver_email).password_org_id is None
    assert "caregiver" in {a["kind"] for a in login(api, fam.caregiver_email).body["accounts"]}


def test_r13_r20_accepting_a_caregiver_invite_kills_an_outstanding_reset_link(
    api: Api, practice: Practice
) -> None:
    # R13, R20: a password set through the caregiver invite supersedes the login's reset link.
    fam = family(api, practice, accept=False)
    assert api.post("/v1/auth/password-reset", {"email": fam.caregiver_email}).status == 202
    api.post("/_local/drain")  # R51: the worker files a public form's reset under the login
    (job,) = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "password_reset"]
    reset_path = "/" + sealed_link(job).split("/", 3)[3]
    path = invite_path(practice.id, fam.caregiver)
    assert submit(api, path, {"password": PASSWORD, "confirm": PASSWORD}).status == 303
    assert api.call("GET", reset_path).status == 410


def test_r30_an_unknown_caregiver_link_is_404(api: Api) -> None:
    page, _, _ = open_page(api, "/caregiver-invite/nothing-like-a-token")
    assert page.status == 404


def test_r31_removing_the_grant_ends_a_session_inside_at_once(api: Api, practice: Practice) -> None:
    fam = family(api, practice)
    token = caregiver_session(api, fam)
    assert api.get("/v1/portal/profile", token).status == 200
    removed = api.patch(fam.link_path, {"portal_access": None}, practice.admin_token)
    assert removed.status == 200, removed.body
    assert api.get("/v1/portal/profile", token).status == 401
    kinds = [a["kind"] for a in login(api, fam.caregiver_email).body["accounts"]]
    assert "caregiver" not in kinds


def test_r31_removing_the_link_ends_a_session_inside_at_once(api: Api, practice: Practice) -> None:
    fam = family(api, practice)
    token = caregiver_session(api, fam)
    assert api.call("DELETE", fam.link_path, token=practice.admin_token).status == 204
    assert api.get("/v1/portal/profile", token).status == 401


def test_r31_a_revoked_grants_invite_link_is_dead(api: Api, practice: Practice) -> None:
    fam = family(api, practice, accept=False)
    path = invite_path(practice.id, fam.caregiver)
    api.patch(fam.link_path, {"portal_access": None}, practice.admin_token)
    page, _, _ = open_page(api, path)
    assert page.status == 410
    assert b"withdrawn" in page.raw


def test_r43_a_caregiver_invite_of_a_withdrawn_grant_is_not_sent(
    api: Api, practice: Practice
) -> None:
    # R43: the grant was removed before the worker picked up its invite: the email would carry a
    # dead link, so it is suppressed `invite_superseded`, not sent.
    fam = family(api, practice, accept=False)
    api.patch(fam.link_path, {"portal_access": None}, practice.admin_token)
    drained = api.post("/_local/drain")
    assert drained.status == 200, drained.body
    (job,) = jobs_of(practice.id, fam.caregiver, "caregiver_invite")
    job.refresh()
    assert (job.status, job.reason) == ("suppressed", "invite_superseded")


def test_r33_a_scoped_grant_refuses_outside_its_scopes(api: Api, practice: Practice) -> None:
    fam = family(api, practice, portal_access={"acknowledged": True, "scopes": ["appointments"]})
    token = caregiver_session(api, fam)
    assert api.get("/v1/portal/appointments", token).status == 200
    refused = api.get("/v1/portal/journal-entries", token)
    assert refused.status == 403
    assert refused.error_code() == "outside_grant"


def test_b4_a_teenagers_caregiver_gets_the_limited_tier(api: Api, practice: Practice) -> None:
    fam = family(api, practice, receiver_extra={"client_type": "minor", "dob": "2012-01-01"})
    token = caregiver_session(api, fam)
    assert api.get("/v1/portal/appointments", token).status == 200
    assert api.get("/v1/portal/journal-entries", token).error_code() == "outside_grant"


def test_b4_the_tier_is_read_from_the_dob_on_each_request(api: Api, practice: Practice) -> None:
    fam = family(api, practice, receiver_extra={"client_type": "minor", "dob": "2020-01-01"})
    token = caregiver_session(api, fam)
    assert api.get("/v1/portal/journal-entries", token).status == 200  # under 12: everything
    client = f"/v1/orgs/{practice.id}/clients/{fam.receiver}"
    assert api.patch(client, {"dob": "2013-01-01"}, practice.admin_token).status == 200
    assert api.get("/v1/portal/journal-entries", token).error_code() == "outside_grant"
    assert api.patch(client, {"dob": "2001-01-01"}, practice.admin_token).status == 200
    assert api.get("/v1/portal/appointments", token).status == 401  # 18 or older: none


def test_b4_the_tiers_are_an_organization_setting(api: Api, practice: Practice) -> None:
    fam = family(api, practice, receiver_extra={"client_type": "minor", "dob": "2012-01-01"})
    token = caregiver_session(api, fam)
    tiers = [{"until_age": 18, "scopes": None}]
    answer = api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"caregiver_age_tiers": tiers}},
        practice.admin_token,
    )
    assert answer.status == 200, answer.body
    assert api.get("/v1/portal/journal-entries", token).status == 200


def test_b5_caregiver_and_client_are_reminded_once_before_a_grant_ends(
    api: Api, practice: Practice
) -> None:
    ends = (clock.now() + timedelta(days=2)).date().isoformat()
    fam = family(api, practice, portal_access={"acknowledged": True, "ends_on": ends})
    token = caregiver_session(api, fam)
    assert api.get("/v1/portal/profile", token).status == 200
    ticked = api.post("/_local/tick", {})
    assert ticked.body["grant_reminders"] == 1  # due 7 days before: today
    assert {j.kind for j in jobs_of(practice.id, fam.receiver, "caregiver_access_ending")} == {
        "caregiver_access_ending"
    }
    assert jobs_of(practice.id, fam.caregiver, "caregiver_access_ending")
    assert api.post("/_local/tick", {}).body["grant_reminders"] == 0  # once


def test_r47_b6_the_client_sees_who_entered_on_their_behalf(api: Api, practice: Practice) -> None:
    fam = family(api, practice)
    caregiver_token = caregiver_session(api, fam)
    wrote = api.post("/v1/portal/journal-entries", {"text": "Slept well."}, caregiver_token)
    assert wrote.status == 201
    assert wrote.body["entry"]["on_behalf_of"] == fam.receiver
    give_password("sam@example.com")
    token = client_session(api, "sam@example.com")
    events = api.get("/v1/portal/access-log", token).body["events"]
    # Events of one second share their time; their order within it is not asserted.
    assert sorted(e["action"] for e in events) == ["account.entered", "journal.written"]
    assert {e["actor"] for e in events} == {f"client:{fam.caregiver}"}
    assert {e["on_behalf_of"] for e in events} == {fam.receiver}
    assert api.get("/v1/portal/access-log", caregiver_token).error_code() == "account_holder_only"


def test_r47_staff_read_the_audit_of_links_grants_and_switches(
    api: Api, practice: Practice
) -> None:
    fam = family(api, practice)
    caregiver_session(api, fam)
    answer = api.get(f"/v1/orgs/{practice.id}/audit?client_id={fam.receiver}", practice.admin_token)
    assert answer.status == 200
    actions = {e["action"] for e in answer.body["events"]}
    assert {"link.created", "grant.given", "grant.accepted", "account.entered"} <= actions


def test_b5_a_grant_past_its_end_date_gives_no_access(
    api: Api, practice: Practice, monkeypatch
) -> None:
    ends = (clock.now() + timedelta(days=2)).date()
    fam = family(api, practice, portal_access={"acknowledged": True, "ends_on": ends.isoformat()})
    caregiver_session(api, fam)
    later = clock.now() + timedelta(days=3)  # the day after `ends_on`, its last day
    monkeypatch.setattr(clock, "now", lambda: later)
    kinds = [a["kind"] for a in login(api, fam.caregiver_email).body["accounts"]]
    assert kinds == ["client"]


def test_b6_the_access_log_costs_the_same_however_long_the_clients_history(
    api: Api, practice: Practice, dynamo_calls
) -> None:
    # DESIGN "Data": one Query on the sparse on-behalf index, not a filter over the history.
    fam = family(api, practice)
    caregiver_session(api, fam)
    give_password("sam@example.com")
    token = client_session(api, "sam@example.com")
    counts = []
    for _ in range(2):
        dynamo_calls.clear()
        events = api.get("/v1/portal/access-log", token).body["events"]
        counts.append(len(dynamo_calls.operations))
        assert [e["action"] for e in events] == ["account.entered"]
        for n in range(5):  # staff history of the same client, not on anyone's behalf
            api.post(
                f"/v1/orgs/{practice.id}/clients/{fam.receiver}/contacts",
                {"first_name": f"C{n}", "last_name": "R", "relationship": "other"},
                practice.admin_token,
            )
    assert counts[0] == counts[1], counts
